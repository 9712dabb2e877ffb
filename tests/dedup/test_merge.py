"""Staff merge and split: reports move, audit events on both tickets, reporters get
their ticket number, and a split is not undone by the matcher."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aggregator.dedup.merge import merge_tickets, split_report
from aggregator.domain import Author, Report
from aggregator.tickets.actions import ActionError
from storage.models import DedupApart, Outbox, Ticket, TicketEvent
from storage.models import Report as ReportRow

QUEUE_A = "Mesin antrian di RSUD Dr. Soetomo rusak sejak pagi, ratusan pasien menumpuk di lobi"
QUEUE_B = "Antrian RSUD Dr. Soetomo kacau, mesin nomor antrian error dari pagi, pasien menumpuk"
TOILET = "Toilet di gedung rawat jalan RSUD Dr. Soetomo kotor sekali dan airnya mati"


def report(ext: str, text: str, who: str, **kw) -> Report:
    return Report(source="x", channel="twitter", external_id=ext, text=text,
                  author=Author(handle=who), **kw)


async def events(sessions, number: str) -> list[TicketEvent]:
    async with sessions() as s:
        tid = (await s.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one()
        return list((await s.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)
        )).scalars())


async def test_merge_moves_reports_and_keeps_old_number_working(sessions, ingest):
    a = await ingest(report("1", QUEUE_A, "u1", ack=True))
    t = await ingest(report("2", TOILET, "u2", ack=True))
    assert a.ticket_number != t.ticket_number  # same hospital, different problem

    async with sessions() as s, s.begin():
        result = await merge_tickets(s, t.ticket_number.lower(), a.ticket_number, "user:sri")
    assert (result.source, result.target, result.moved_reports) == (
        t.ticket_number, a.ticket_number, 1)

    async with sessions() as s:
        src = (await s.execute(select(Ticket).where(Ticket.number == t.ticket_number))
               ).scalar_one()
        dst = (await s.execute(select(Ticket).where(Ticket.number == a.ticket_number))
               ).scalar_one()
        assert src.state == "closed" and src.merged_into_id == dst.id and src.report_count == 0
        assert dst.report_count == 2
        moved = await s.get(ReportRow, t.report_id)
        assert moved.ticket_id == dst.id
        acks = (await s.execute(select(Outbox).where(
            Outbox.kind == "ack", Outbox.payload["reason"].as_string() == "merged")
        )).scalars().all()
        assert [(o.source, o.ticket_id, o.payload["report_external_id"])
                for o in acks] == [("x", dst.id, "2")]
    merged = [e for e in await events(sessions, a.ticket_number) if e.type == "merged"]
    assert merged[0].actor == "user:sri" and merged[0].data["from"] == t.ticket_number
    assert merged[0].data["report_ids"] == [t.report_id]
    types = [e.type for e in await events(sessions, t.ticket_number)]
    assert "merged_into" in types and "state_changed" in types

    # The reporter writes again quoting the old number, or replies to their report:
    # it lands on the surviving ticket.
    again = await ingest(report("3", "Ada kabar?", "u2", ticket_ref=t.ticket_number))
    reply = await ingest(report("4", "Halo?", "u2", reply_to=("2",)))
    assert again.ticket_number == reply.ticket_number == a.ticket_number


async def test_merge_refusals(sessions, ingest):
    a = await ingest(report("1", QUEUE_A, "u1"))
    t = await ingest(report("2", TOILET, "u2"))
    async with sessions() as s, s.begin():
        with pytest.raises(ActionError) as err:
            await merge_tickets(s, a.ticket_number, a.ticket_number, "user:sri")
        assert err.value.status == 409
        with pytest.raises(ActionError) as err:
            await merge_tickets(s, "ADU-1999-000001", a.ticket_number, "user:sri")
        assert err.value.status == 404
        await merge_tickets(s, t.ticket_number, a.ticket_number, "user:sri")
        with pytest.raises(ActionError) as err:
            await merge_tickets(s, t.ticket_number, a.ticket_number, "user:sri")
        assert err.value.status == 409 and "already merged" in err.value.detail


async def test_split_is_remembered_by_the_matcher(sessions, ingest):
    a = await ingest(report("1", QUEUE_A, "u1"))
    b = await ingest(report("2", QUEUE_B, "u2", ack=True))
    assert b.ticket_number == a.ticket_number and b.match_reason == "near_duplicate"

    async with sessions() as s, s.begin():
        split = await split_report(s, b.report_id, "user:sri")
    assert split.source == a.ticket_number and split.ticket != a.ticket_number

    async with sessions() as s:
        new = (await s.execute(select(Ticket).where(Ticket.number == split.ticket))).scalar_one()
        old = (await s.execute(select(Ticket).where(Ticket.number == a.ticket_number))
               ).scalar_one()
        assert (new.report_count, old.report_count, new.state) == (1, 1, "new")
        assert (await s.get(ReportRow, b.report_id)).ticket_id == new.id
        apart = (await s.execute(select(DedupApart))).scalar_one()
        assert (apart.report_id, apart.ticket_id, apart.actor) == (b.report_id, old.id,
                                                                    "user:sri")
        ack = (await s.execute(select(Outbox).where(
            Outbox.payload["reason"].as_string() == "split"))).scalar_one()
        assert ack.ticket_id == new.id and ack.payload["new_ticket"]
    assert [e.type for e in await events(sessions, a.ticket_number)][-1] == "report_split"
    created = (await events(sessions, split.ticket))[0]
    assert created.type == "created" and created.data["from"] == a.ticket_number

    # Another report like the split one goes to the split one's ticket, not back.
    c = await ingest(report("3", QUEUE_B + " hari ini", "u3"))
    assert c.ticket_number == split.ticket
    # A report like the first one still joins the first ticket.
    d = await ingest(report("4", QUEUE_A + " hari ini", "u4"))
    assert d.ticket_number == a.ticket_number

    # Staff change their mind: merging them back forgets the split.
    async with sessions() as s, s.begin():
        await merge_tickets(s, split.ticket, a.ticket_number, "user:sri")
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(DedupApart))).scalar_one() == 0
    e = await ingest(report("5", QUEUE_B + " sampai sore", "u5"))
    assert e.ticket_number == a.ticket_number


async def test_split_refuses_the_only_report(sessions, ingest):
    a = await ingest(report("1", QUEUE_A, "u1"))
    async with sessions() as s, s.begin():
        with pytest.raises(ActionError) as err:
            await split_report(s, a.report_id, "user:sri")
        assert err.value.status == 409
        with pytest.raises(ActionError) as err:
            await split_report(s, 999_999, "user:sri")
        assert err.value.status == 404


async def test_split_of_a_report_matched_by_reply_indexes_it(sessions, ingest):
    """A reply joins by thread, not by text, and was never indexed; after the split
    the matcher still knows it."""
    a = await ingest(report("1", QUEUE_A, "u1"))
    r = await ingest(report("2", TOILET, "u1", reply_to=("1",)))
    assert r.ticket_number == a.ticket_number and r.match_reason == "reply"
    async with sessions() as s, s.begin():
        split = await split_report(s, r.report_id, "user:sri")
    t = await ingest(report("3", TOILET + " lagi", "u9"))
    assert t.ticket_number == split.ticket
