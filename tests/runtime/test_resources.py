"""What the daemon holds does not creep up with the busiest moment it has seen: a burst
of staff queries leaves it with the database handles it had when it started."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import SQLITE_HEAP_LIMIT, SQLITE_READERS, create_engine
from storage.sqlite_heap import heap_parts
from tests.core.helpers import Api, running, service_settings, token_for


def handles_on(db_url: str) -> int:
    """Open files of this process on the database file (one per SQLite connection)."""
    path = str(Path(make_url(db_url).database or "").resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:
            pass
    return count


async def test_a_burst_of_queries_leaves_no_more_database_connections(tmp_path):
    # SQLite's reader pool, whichever database the rest of the run uses.
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    async with running(service_settings(db_url, tmp_path)) as service:
        api = Api(service.web_url, await token_for(service, "siti", "agent"))
        assert (await api.call("GET", "/api/tickets"))[0] == 200
        at_start = handles_on(db_url)
        answers = await asyncio.gather(*(api.call("GET", "/api/tickets") for _ in range(40)))
        assert [status for status, _ in answers] == [200] * 40
        assert handles_on(db_url) == at_start


async def test_sqlite_keeps_to_its_heap_limit_on_a_database_larger_than_it(tmp_path):
    """Every connection reading a database four times the limit: SQLite reuses its
    cache pages rather than taking more (five connections could cache 10 MB)."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'big.db'}"
    writer, readers = create_engine(db_url), create_engine(db_url, read_only=True)
    try:
        async with writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
            await conn.execute(text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 32000)"
                " INSERT INTO t SELECT i, printf('%.1000c', 'x') FROM n"))
        for _ in range(3):
            await asyncio.gather(*(scan(readers) for _ in range(SQLITE_READERS)))
        async with writer.connect() as conn:
            await conn.execute(text("SELECT sum(length(body)) FROM t"))
        parts = heap_parts()
    finally:
        await writer.dispose()
        await readers.dispose()
    if parts is None:
        pytest.skip("SQLite's heap cannot be read in this build (statically linked)")
    assert sum(parts.values()) <= SQLITE_HEAP_LIMIT + 2**20


async def scan(engine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT sum(length(body)) FROM t"))
