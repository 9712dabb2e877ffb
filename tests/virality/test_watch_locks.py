"""The watch and escalation both take tickets FOR UPDATE on PostgreSQL, each on its own
timer. A ticket another job holds when the watch comes by is visited again at the end
of the round, once its holder lets go: colliding jobs cannot hide a viral ticket."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.virality.detector import DetectorSettings
from aggregator.virality.watch import watch
from storage.db import create_engine, session_factory
from storage.models import Ticket, Virality
from storage.types import utcnow


async def test_a_ticket_held_by_another_job_is_watched_in_the_same_round(pg_db_url, settings):
    engine = create_engine(pg_db_url)
    sessions = session_factory(engine)
    try:
        ingestor = Ingestor(sessions, Pipeline(settings))
        held, free = [await ingestor.submit([Report(
            source="lapor", channel="webhook", external_id=f"r{i}", text=text,
            author=Author(handle=f"08123{i}"))])
            for i, text in enumerate(["Lampu jalan mati di Jl. Kenanga",
                                      "Sampah menumpuk di Pasar Baru"])]
        await ingestor.close()
        ids = [held[0].ticket_id, free[0].ticket_id]

        async with sessions() as other, other.begin():  # escalation, say, mid-round
            await other.execute(select(Ticket).where(Ticket.id == ids[0]).with_for_update())
            now = utcnow()
            round_ = asyncio.create_task(watch(sessions, DetectorSettings(), ids, now))
            await asyncio.sleep(0.5)
            assert not round_.done()  # the free ticket is done; the held one waits
            async with sessions() as look:
                seen = {v.ticket_id for v in (await look.execute(select(Virality))).scalars()}
            assert seen == {ids[1]}
        await asyncio.wait_for(round_, 10)
        async with sessions() as look:
            rows = {v.ticket_id: v for v in (await look.execute(select(Virality))).scalars()}
        assert set(rows) == set(ids)
        assert all(r.updated_at == now for r in rows.values())
    finally:
        await engine.dispose()
