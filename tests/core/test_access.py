"""Who sees what: agents work their units' tickets and unassigned ones; confidential
tickets only for the roles and units allowed; reading a confidential reporter's
identity is on the record."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.domain import Author, Report, ReportKind
from storage.accounts import set_units
from storage.models import Ticket, TicketEvent
from tests.core.helpers import Api, running, service_settings, token_for


async def user(svc, name, role, units=()) -> Api:
    token = await token_for(svc, name, role)
    async with svc.sessions() as s, s.begin():
        await set_units(s, name, list(units))
    return Api(svc.web_url, token)


async def test_units_and_confidential_tickets_are_boundaries(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path,
                                access={"integrity_units": ["inspektorat"]})
    async with running(settings) as svc:
        made = await svc.ingestor.submit([
            Report(source="web", channel="web", external_id="1", text="Antrian poli anak",
                   author=Author(handle="a")),
            Report(source="web", channel="web", external_id="2", text="Parkir liar",
                   author=Author(handle="b")),
            Report(source="web", channel="web", external_id="3", text="Pungli di loket",
                   author=Author(handle="saksi", name="Saksi Satu", phone="0812"),
                   kind=ReportKind.WHISTLEBLOWING),
            Report(source="web", channel="web", external_id="4", text="Belum ada unit",
                   author=Author(handle="d")),
        ])
        poli, parkir, wbs, loose = (r.ticket_number for r in made)
        async with svc.sessions() as s, s.begin():
            for number, unit in ((poli, "poli"), (parkir, "umum"), (wbs, "poli")):
                t = (await s.execute(select(Ticket).where(Ticket.number == number))
                     ).scalar_one()
                t.unit = unit
        agent = await user(svc, "ani", "agent", ["poli"])
        other = await user(svc, "budi", "agent", ["umum"])
        head = await user(svc, "sri", "supervisor", ["poli"])
        stranger = await user(svc, "tono", "supervisor", ["umum"])
        auditor = await user(svc, "irma", "agent", ["inspektorat"])

        async def queue(api):
            status, body = await api.call("GET", "/api/tickets?limit=50")
            assert status == 200
            return {t["number"] for t in body["tickets"]}

        assert await queue(agent) == {poli, loose}
        assert await queue(other) == {parkir, loose}
        assert await queue(head) == {poli, parkir, wbs, loose}
        assert await queue(stranger) == {poli, parkir, loose}
        assert await queue(auditor) == {wbs, loose}

        for api, number in ((agent, wbs), (other, poli), (stranger, wbs)):
            status, _ = await api.call("GET", f"/api/tickets/{number}")
            assert status == 404
            status, _ = await api.call("POST", f"/api/tickets/{number}/replies",
                                       json={"text": "halo"})
            assert status == 404
            status, _ = await api.call("PATCH", f"/api/tickets/{number}",
                                       json={"state": "closed"})
            assert status == 404

        status, body = await agent.call("PATCH", f"/api/tickets/{poli}", json={"unit": "umum"})
        assert status == 403
        status, body = await head.call("PATCH", f"/api/tickets/{poli}", json={"unit": "umum"})
        assert status == 200 and body["unit"] == "umum"

        status, body = await head.call("GET", f"/api/tickets/{wbs}")
        assert status == 200 and body["reports"][0]["author"]["name"] == "Saksi Satu"
        async with svc.sessions() as s:
            seen = (await s.execute(select(TicketEvent).where(
                TicketEvent.type == "identity_viewed"))).scalars().all()
        assert [(e.actor, e.data["report_ids"]) for e in seen] == [
            ("user:sri", [made[2].report_id])]
