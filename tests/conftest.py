"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

Set AGGREGATOR_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test to
run the suite on PostgreSQL; each test then gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aggregator.config import Settings, parse
from storage.db import create_engine, session_factory
from storage.migrate import upgrade

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

PG_URL = os.environ.get("AGGREGATOR_TEST_DATABASE_URL", "")


@pytest.fixture
async def db_url(tmp_path: Path) -> AsyncIterator[str]:
    """URL of an empty, migrated database that lives for one test."""
    if not PG_URL:
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_url_with_schema(PG_URL, schema)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


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
