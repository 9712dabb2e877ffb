"""Two processes on one PostgreSQL database get near-duplicates of one incident at the
same instant: one ticket, not two. Each side is a full ingest path (its own engine,
Ingestor, Pipeline and matcher), as two `aggregator run` replicas are."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aggregator.config import parse
from aggregator.dedup import build_matcher, store
from aggregator.dedup.features import Doc, extract
from aggregator.dedup.keys import lock_keys
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.db import create_engine, session_factory
from storage.types import utcnow

PLACES = ["Puskesmas Kecamatan Cilandak", "RSUD Kota Bekasi", "Kantor Kelurahan Menteng",
          "Stasiun Manggarai", "Pasar Induk Kramat Jati", "Terminal Kampung Rambutan"]


def telling(place: str, who: str, i: int) -> Report:
    return Report(
        source="lapor", channel="webhook", external_id=f"{who}-{place}",
        text=(f"Sejak pagi listrik padam total di {place}, pelayanan warga berhenti "
              f"dan antrean menumpuk. Mohon segera ditangani. ({who})"),
        author=Author(handle=f"{who}-{i}"), sent_at=utcnow(),
    )


async def test_near_duplicates_on_two_replicas_at_once_make_one_ticket(pg_db_url, tmp_path):
    settings = parse({"database": {"url": pg_db_url}}, base_dir=tmp_path, env={})
    engines = [create_engine(pg_db_url) for _ in range(2)]
    ingestors = [Ingestor(session_factory(e), Pipeline(settings, matcher=build_matcher(settings)))
                 for e in engines]
    try:
        for i, place in enumerate(PLACES):
            # The same incident told by two people, landing on both replicas together.
            a, b = await asyncio.gather(ingestors[0].submit([telling(place, "warga-a", i)]),
                                        ingestors[1].submit([telling(place, "warga-b", i)]))
            assert a[0].ticket_number == b[0].ticket_number, place
        # Different incidents still get tickets of their own.
        numbers = set()
        for i, place in enumerate(PLACES):
            (again,) = await ingestors[0].submit([telling(place, "warga-a", i)])
            numbers.add(again.ticket_number)
        assert len(numbers) == len(PLACES)
    finally:
        for ing in ingestors:
            await ing.close()
        for e in engines:
            await e.dispose()


async def test_reports_naming_only_their_city_do_not_wait_for_each_other(pg_db_url):
    """A city's agency hears its city named in nearly every report: replicas must not
    take turns on it. Two tellings of one incident still do (the later one then sees
    the earlier one's ticket)."""
    lamps = extract("Lampu jalan di Kota Bekasi mati semua sejak kemarin malam")
    queue = extract("Antrian di RSUD Kota Bekasi sangat lama, loket cuma dua yang buka")
    again = extract("RSUD Kota Bekasi antriannya parah bgt, loket cuma 2 yg buka")
    engine = create_engine(pg_db_url)
    sessions = session_factory(engine)

    async def lock_while_held(doc: Doc) -> None:
        async with sessions() as other, other.begin():
            await other.execute(text("SET LOCAL lock_timeout = '2s'"))
            await store.lock(other, lock_keys(doc))

    try:
        async with sessions() as first, first.begin():
            await store.lock(first, lock_keys(queue))
            await lock_while_held(lamps)  # another problem in the same city: no wait
            with pytest.raises(DBAPIError, match="lock timeout"):
                await lock_while_held(again)  # the same queue, told again: waits
    finally:
        await engine.dispose()
