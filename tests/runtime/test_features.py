"""Features plug in through one surface; their ingest hooks see the batch's tickets
written, so whatever they write may refer to them."""

from __future__ import annotations

from sqlalchemy import insert, select

from aggregator.domain import Author, Report
from aggregator.events import EventType
from aggregator.runtime.features import Feature
from aggregator.runtime.jobs import Job
from aggregator.runtime.service import FEATURES, Service
from storage.models import TicketEvent
from tests.core.helpers import Api, service_settings, token_for


class Stamp:
    """A hook that writes an event with a Core insert (no ORM flush of its own)."""

    async def after_ingest(self, session, ingested):
        await session.execute(insert(TicketEvent), [
            {"ticket_id": i.ticket.id, "actor": "feature:stamp", "type": "state_changed",
             "data": {"stamped": i.report_id, "created": i.created_ticket}}
            for i in ingested
        ])


class StampFeature(Feature):
    name = "stamp"
    rounds = 0

    def ingest_hooks(self):
        return [Stamp()]

    def sections(self):
        async def stamp(session, ticket):
            return {"number": ticket.number}

        return {"stamp": stamp}

    def jobs(self):
        async def tick() -> None:
            StampFeature.rounds += 1

        return [Job("stamp-tick", tick, interval=0.05, single_instance=True)]


async def test_feature_hooks_sections_and_jobs_plug_in(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path)
    service = Service(settings, features=(*FEATURES, StampFeature))
    await service.start()
    try:
        results = await service.ingestor.submit([
            Report(source="web", channel="web", external_id=str(i), text=f"keluhan {i}",
                   author=Author(handle=f"u{i}"))
            for i in range(3)
        ])
        assert all(r.created_ticket for r in results)
        token = await token_for(service, "sri", "agent")
        status, body = await Api(service.web_url, token).call(
            "GET", f"/api/tickets/{results[0].ticket_number}")
        assert status == 200 and body["stamp"] == {"number": results[0].ticket_number}
        stamped = [e for e in body["events"] if e["actor"] == "feature:stamp"]
        assert stamped[0]["data"] == {"stamped": results[0].report_id, "created": True}
        assert body["events"][0]["type"] == EventType.CREATED
        status, health = await Api(service.web_url, None).call("GET", "/healthz")
        assert health["jobs"]["stamp-tick"]["holding"] is True
    finally:
        await service.stop()
    assert StampFeature.rounds >= 1
    async with service.sessions() as s:
        count = len((await s.execute(select(TicketEvent).where(
            TicketEvent.actor == "feature:stamp"))).scalars().all())
    assert count == 3
