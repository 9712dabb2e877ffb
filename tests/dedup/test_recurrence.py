"""A problem that comes back after `dedup.recurrence_hours` opens a new ticket that links
to the earlier one: an audit event and `recurrence_of` in the ticket detail."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import select

from aggregator.dedup import build_matcher
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.models import Ticket, TicketEvent
from storage.types import utcnow
from tests.core.helpers import Api, running, token_for
from tests.dedup.test_service import post, settings_for

OUTAGE = "Listrik padam di RSUD Pasar Minggu sejak pagi, genset tidak menyala, pasien kepanasan"
RETOLD = "RSUD Pasar Minggu mati lampu lagi dari tadi, genset ga nyala, pasien kepanasan"
OTHER = "Jalan berlubang besar di Jl. Raya Bogor km 24, motor sering jatuh"


def report(ext: str, text: str, days_ago: float) -> Report:
    return Report(source="x", channel="twitter", external_id=ext, text=text,
                  author=Author(handle=f"warga{ext}"),
                  sent_at=utcnow() - timedelta(days=days_ago))


async def _events(sessions, number: str, kind: str) -> list[dict]:
    async with sessions() as s:
        rows = await s.execute(
            select(TicketEvent.data).join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.number == number, TicketEvent.type == kind))
        return [dict(d) for d in rows.scalars()]


async def test_recurrence_opens_a_linked_ticket(sessions, settings):
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    try:
        (first,) = await ingestor.submit([report("1", OUTAGE, days_ago=12)])
        (road,) = await ingestor.submit([report("2", OTHER, days_ago=12)])
        (again,) = await ingestor.submit([report("3", RETOLD, days_ago=0.2)])
        (same_day,) = await ingestor.submit([report("4", OUTAGE, days_ago=0.1)])
        (road_again,) = await ingestor.submit([report("5", "Listrik padam di Jl. Raya "
                                                      "Bogor km 24 sejak sore", days_ago=0)])
    finally:
        await ingestor.close()
    # Twelve days later the outage is a new ticket, not folded into the old one ...
    assert again.created_ticket and again.ticket_number != first.ticket_number
    links = await _events(sessions, again.ticket_number, "recurrence_of")
    assert len(links) == 1 and links[0]["ticket"] == first.ticket_number
    assert links[0]["hours"] >= 24 * 11
    # ... the next report of it joins that new ticket (an ordinary duplicate) ...
    assert same_day.ticket_number == again.ticket_number and not same_day.created_ticket
    # ... and neither the old tickets nor an unrelated new one claim a recurrence.
    for number in (first.ticket_number, road.ticket_number, road_again.ticket_number):
        assert await _events(sessions, number, "recurrence_of") == []
    assert road_again.ticket_number not in (road.ticket_number, again.ticket_number)


async def test_staff_see_the_earlier_ticket_in_the_detail(db_url, tmp_path):
    now = utcnow()
    async with running(settings_for(db_url, tmp_path)) as svc, aiohttp.ClientSession() as http:
        url = f"{svc.web_url}/hooks/lapor"
        old = await post(http, url, {"id": "r1", "text": OUTAGE, "reporter": {"name": "a"},
                                     "created_at": (now - timedelta(days=10)).isoformat()})
        new = await post(http, url, {"id": "r2", "text": RETOLD, "reporter": {"name": "b"},
                                     "created_at": now.isoformat()})
        assert new["ticket"] != old["ticket"]
        api = Api(svc.web_url, await token_for(svc, "ani", "agent"))
        status, ticket = await api.call("GET", f"/api/tickets/{new['ticket']}")
        assert status == 200
        assert ticket["recurrence_of"] == old["ticket"]
        (event,) = [e for e in ticket["events"] if e["type"] == "recurrence_of"]
        assert event["data"]["ticket"] == old["ticket"] and event["actor"] == "connector:lapor"
        status, earlier = await api.call("GET", f"/api/tickets/{old['ticket']}")
        assert status == 200 and earlier["recurrence_of"] is None
        assert earlier["report_count"] == 1
