"""Ticket numbers: each one once, counting from 1 each year; on PostgreSQL a
transaction that opened a ticket does not hold up another process's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select

from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage import numbers
from storage.db import create_engine, session_factory
from storage.models import Ticket, TicketCounter


def distinct(i: int) -> Report:
    places = ("Tebet", "Cilandak", "Kemayoran", "Cakung", "Grogol", "Koja", "Duren Sawit")
    return Report(source="lapor", channel="web-form", external_id=f"n-{i}",
                  text=f"Laporan {i}: lampu jalan padam di gang {i} {places[i % len(places)]}",
                  author=Author(handle=f"0812{i:07d}", name=f"Warga {i}"))


async def test_numbers_are_unique_and_count_from_one(db_url, settings):
    settings = settings.model_copy(update={"dedup": settings.dedup.model_copy(
        update={"enabled": False})})
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        ingestors = [Ingestor(session_factory(e), Pipeline(settings)) for e in engines]
        batches = [[distinct(i) for i in range(k, 60, 6)] for k in range(6)]
        await asyncio.gather(*(ingestors[k % 2].submit(b) for k, b in enumerate(batches)))
        async with session_factory(engines[0])() as s:
            got = (await s.execute(select(Ticket.number))).scalars().all()
    finally:
        for e in engines:
            await e.dispose()
    year = datetime.now(UTC).year
    assert sorted(got) == [f"ADU-{year}-{n:06d}" for n in range(1, 61)]


async def test_a_ticket_opened_in_one_transaction_does_not_hold_up_another(pg_db_url):
    """Two replicas each opening a ticket: the second gets its number while the
    first transaction is still open (the counter row made it wait for that commit)."""
    engine = create_engine(pg_db_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as first, first.begin():
            (a,) = await numbers.allocate(first, "ADU", 2026, 1)
            async with sessions() as second, second.begin():
                (b,) = await asyncio.wait_for(
                    numbers.allocate(second, "ADU", 2026, 1), timeout=5)
        assert {a, b} == {"ADU-2026-000001", "ADU-2026-000002"}
    finally:
        await engine.dispose()


async def test_numbering_goes_on_from_a_database_numbered_before(db_url):
    """A database whose counter row says 41 (an earlier version, or SQLite's way)
    gives 42 next, on either database."""
    engine = create_engine(db_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as s, s.begin():
            await s.execute(insert(TicketCounter), [
                {"prefix": "ADU", "year": 2025, "value": 41}])
        async with sessions() as s, s.begin():
            got = await numbers.allocate(s, "ADU", 2025, 2)
            other_year = await numbers.allocate(s, "ADU", 2024, 1)
        assert got == ["ADU-2025-000042", "ADU-2025-000043"]
        assert other_year == ["ADU-2024-000001"]
    finally:
        await engine.dispose()


async def test_sqlite_numbers_have_no_gaps_when_reports_join_tickets(
        sqlite_db_url, settings):
    """A batch reserves a number for each report, then most join one ticket: the
    numbers not used are given back, so the next ticket takes the next number."""
    engine = create_engine(sqlite_db_url)
    try:
        ing = Ingestor(session_factory(engine), Pipeline(settings))
        same = [Report(source="lapor", channel="web-form", external_id=f"s-{i}",
                       text="Antrean pendaftaran RSUD Tebet sangat lama hari ini",
                       author=Author(handle="0812000001", name="Warga"))
                for i in range(5)]
        first = await ing.submit(same)
        (later,) = await ing.submit([distinct(99)])
    finally:
        await engine.dispose()
    year = datetime.now(UTC).year
    assert {r.ticket_number for r in first} == {f"ADU-{year}-000001"}
    assert later.ticket_number == f"ADU-{year}-000002"
