"""Inline SQLite transactions (storage/sqlite_inline.py): what the ingest writer relies
on. They commit what they wrote, roll back cleanly, and a lock held by another process
is waited for without freezing the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.db import create_engine, session_factory
from storage.models import Report as ReportRow
from storage.models import Reporter
from storage.types import utcnow
from tests.conftest import PG_URL
from tests.core.test_ingest import complaint

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite's driver only")


async def test_inline_ingest_stores_every_report_once(db_url, settings):
    engine = create_engine(db_url)
    try:
        ingestor = Ingestor(session_factory(engine, inline=True), Pipeline(settings))
        results = await asyncio.gather(*(ingestor.submit([complaint(i % 150)])
                                         for i in range(200)))
        await ingestor.close()
        async with session_factory(engine)() as session:
            stored = (await session.execute(select(func.count()).select_from(ReportRow)))
            assert stored.scalar_one() == 150
        assert sum(r.created_report for (r,) in results) == 150
    finally:
        await engine.dispose()


async def test_a_failed_inline_transaction_rolls_back_and_the_connection_goes_on(db_url):
    engine = create_engine(db_url)
    inline, plain = session_factory(engine, inline=True), session_factory(engine)
    row = {"source": "x", "handle": "h", "banned": False, "created_at": utcnow()}
    try:
        async with inline() as session, session.begin():
            await session.execute(Reporter.__table__.insert(), row)
        with pytest.raises(IntegrityError):
            async with inline() as session, session.begin():
                await session.execute(Reporter.__table__.insert(), {**row, "handle": "g"})
                await session.execute(Reporter.__table__.insert(), row)  # duplicate
        async with plain() as session, session.begin():
            handles = (await session.execute(select(Reporter.handle))).scalars().all()
        assert handles == ["h"]  # "g" was rolled back with its transaction
        async with inline() as session, session.begin():
            await session.execute(Reporter.__table__.insert(), {**row, "handle": "k"})
        async with plain() as session:
            n = (await session.execute(select(func.count()).select_from(Reporter))).scalar_one()
        assert n == 2
    finally:
        await engine.dispose()


async def test_waiting_for_another_writer_does_not_freeze_the_event_loop(db_url):
    other = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    engine = create_engine(db_url)
    inline = session_factory(engine, inline=True)

    async def write() -> None:
        async with inline() as session, session.begin():
            await session.execute(text("UPDATE reporters SET banned = 0"))

    try:
        task = asyncio.create_task(write())
        started = time.monotonic()
        await asyncio.sleep(0.3)
        assert time.monotonic() - started < 0.5  # the loop ran while BEGIN waited
        assert not task.done()
        other.execute("COMMIT")
        await asyncio.wait_for(task, 10)
    finally:
        other.close()
        await engine.dispose()
