"""Confidential tickets are a boundary: a whistleblowing report never joins a public
ticket (nor a public report a sealed one), merges across it are refused, and a reply on
a sealed ticket reaches only the reporter it answers."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.domain import Author, Report, ReportKind
from storage.models import Outbox, Reporter, Ticket
from storage.models import Report as ReportRow
from tests.core.helpers import Api, running, service_settings, token_for

TEXT = ("Bendahara Puskesmas Sukamaju memotong dana BOK untuk petugas posyandu sejak "
        "Januari, uang transport kader tidak pernah dibayar penuh.")


def report(ext: str, handle: str, *, kind=ReportKind.COMPLAINT, text=TEXT, **kw) -> Report:
    return Report(source="web", channel="webhook", external_id=ext, text=text,
                  author=Author(handle=handle), kind=kind, **kw)


async def recipients_of(svc, number: str) -> list[str]:
    async with svc.sessions() as s:
        rows = await s.execute(
            select(Reporter.handle).join(Outbox, Outbox.reporter_id == Reporter.id)
            .join(Ticket, Ticket.id == Outbox.ticket_id)
            .where(Ticket.number == number, Outbox.kind == "reply").order_by(Outbox.id))
        return list(rows.scalars())


async def test_sealed_and_open_reports_never_share_a_ticket(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path, dedup={"enabled": True})
    async with running(settings) as svc:
        (public,) = await svc.ingestor.submit([report("p1", "warga-1")])
        (near,) = await svc.ingestor.submit([report("p2", "warga-2")])
        assert near.ticket_number == public.ticket_number  # the matcher does fold these
        (wbs,) = await svc.ingestor.submit([report("w1", "saksi-1",
                                                   kind=ReportKind.WHISTLEBLOWING)])
        assert wbs.created_ticket and wbs.ticket_number != public.ticket_number
        (again,) = await svc.ingestor.submit([report("p3", "warga-3")])
        assert again.ticket_number == public.ticket_number
        # The whistleblower writes again quoting the number: their own sealed ticket.
        (follow,) = await svc.ingestor.submit([report(
            "w2", "saksi-1", text="Tambahan bukti kuitansi", ticket_ref=wbs.ticket_number)])
        assert follow.ticket_number == wbs.ticket_number
        # A public reporter quoting the sealed number does not get in.
        (intruder,) = await svc.ingestor.submit([report(
            "p4", "warga-4", text="Saya juga mau lapor", ticket_ref=wbs.ticket_number)])
        assert intruder.ticket_number != wbs.ticket_number
        async with svc.sessions() as s:
            sealed = await s.get(Ticket, wbs.ticket_id)
            opened = await s.get(Ticket, public.ticket_id)
            row = await s.get(ReportRow, follow.report_id)
        assert sealed.confidential and not opened.confidential and row.confidential

        api = Api(svc.web_url, await token_for(svc, "sri", "supervisor"))
        status, body = await api.call("POST", f"/api/tickets/{wbs.ticket_number}/merge",
                                      json={"into": public.ticket_number})
        assert status == 409 and "confidential" in body["detail"]
        status, _ = await api.call("POST", f"/api/tickets/{public.ticket_number}/merge",
                                   json={"into": wbs.ticket_number})
        assert status == 409

        status, _ = await api.call("POST", f"/api/tickets/{wbs.ticket_number}/replies",
                                   json={"text": "Terima kasih, identitas Anda kami jaga."})
        assert status == 202
        assert await recipients_of(svc, wbs.ticket_number) == ["saksi-1"]
        assert await recipients_of(svc, public.ticket_number) == []


async def test_a_reply_on_a_sealed_ticket_goes_to_the_reporter_it_answers(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path)
    async with running(settings) as svc:
        (first,) = await svc.ingestor.submit([report("w1", "saksi-1",
                                                     kind=ReportKind.WHISTLEBLOWING)])
        (second,) = await svc.ingestor.submit([report(
            "w2", "saksi-2", kind=ReportKind.WHISTLEBLOWING, ticket_ref=first.ticket_number,
            text="Saya saksi kedua")])
        assert second.ticket_number == first.ticket_number
        api = Api(svc.web_url, await token_for(svc, "sri", "supervisor"))
        number = first.ticket_number
        await api.call("POST", f"/api/tickets/{number}/replies", json={"text": "A"})
        assert await recipients_of(svc, number) == ["saksi-2"]  # the latest report's
        await api.call("POST", f"/api/tickets/{number}/replies",
                       json={"text": "B", "report_id": first.report_id})
        assert await recipients_of(svc, number) == ["saksi-2", "saksi-1"]
        await api.call("POST", f"/api/tickets/{number}/replies",
                       json={"text": "C", "everyone": True})
        assert sorted((await recipients_of(svc, number))[2:]) == ["saksi-1", "saksi-2"]
        status, body = await api.call("POST", f"/api/tickets/{number}/replies",
                                      json={"text": "D", "report_id": 999999})
        assert status == 422
