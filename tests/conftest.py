"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

Set AGGREGATOR_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test to
run the suite on PostgreSQL. Migrations run once per test run (into a template SQLite
file, or one PostgreSQL schema dropped at the end); each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aggregator.config import Settings, parse
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Base

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

PG_URL = os.environ.get("AGGREGATOR_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per run: a template SQLite file, or one PostgreSQL schema."""
    if not PG_URL:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
        asyncio.run(_upgrade(url))
        yield url
        return
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_exec(f'CREATE SCHEMA "{schema}"'))
    url = pg_url_with_schema(PG_URL, schema)
    asyncio.run(_upgrade(url))
    try:
        yield url
    finally:
        asyncio.run(_pg_exec(f'DROP SCHEMA "{schema}" CASCADE'))


async def _upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _pg_exec(sql: str) -> None:
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def db_url(_migrated: str, tmp_path: Path) -> AsyncIterator[str]:
    """URL of an empty, migrated database for one test: a copy of the template file
    on SQLite; on PostgreSQL the run's schema with every table emptied."""
    if not PG_URL:
        target = tmp_path / "test.db"
        shutil.copyfile(make_url(_migrated).database or "", target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    engine = create_engine(_migrated)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(
                f'"{t.name}"' for t in Base.metadata.sorted_tables
            )
            await conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # Ticket numbers count from 1 in each test, as on SQLite's fresh copy.
            for (seq,) in await conn.execute(text(
                    "SELECT sequence_name FROM information_schema.sequences "
                    "WHERE sequence_schema = current_schema() "
                    "AND sequence_name LIKE 'ticket\\_numbers\\_%'")):
                await conn.execute(text(f'DROP SEQUENCE "{seq}"'))
    finally:
        await engine.dispose()
    yield _migrated


def pg_url_with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}search_path={schema}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return parse({"database": {"url": db_url}}, base_dir=tmp_path, env={})


def server_missing(reason: str) -> None:
    """Skip a test whose real server is absent, except in CI where it must be there."""
    if os.environ.get("AGGREGATOR_REQUIRE_SERVERS"):
        pytest.fail(f"required server missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def pg_db_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL schema for tests about several processes on one
    database, whichever backend the rest of the run uses (SQLite allows one process)."""
    base = PG_URL or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    schema = f"r_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OSError as exc:
        await admin.dispose()
        server_missing(f"PostgreSQL not reachable at {base}: {exc}")
    url = pg_url_with_schema(base, schema)
    try:
        await _upgrade(url)
        yield url
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def sqlite_db_url(tmp_path: Path) -> str:
    """A migrated SQLite file of its own, for tests about SQLite's ways whichever
    backend the rest of the run uses."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    await _upgrade(url)
    return url
