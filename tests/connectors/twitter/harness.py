"""Test helpers: run the real connector against the fake X API on a real database."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.port import ConnectorContext
from connectors.twitter import TwitterConnector, TwitterSettings
from connectors.twitter.settings import ENDPOINTS
from storage.models import EngagementSample, Report, Ticket
from tests.connectors.twitter.fake_x import FakeX

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "api"


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared test data {path} is absent (see shared/data/README.md)")
    return path


def twitter_settings(fake: FakeX, **overrides: Any) -> TwitterSettings:
    raw: dict[str, Any] = {
        "type": "twitter", "bearer_token": fake.bearer, "account_id": fake.account["id"],
        "api_base_url": fake.url, "poll_interval": 0.05, "backoff_initial": 0.2,
        "backoff_max": 2, "backfill_hours": 1,
        "engagement": {"refresh_interval": 0.1, "max_age_hours": 24},
        # Polls every 50 ms would spend the real default budgets in half a second;
        # tests about budgets set their own.
        "budgets": {name: {"per_15min": None, "per_day": None} for name in ENDPOINTS},
    }
    raw.update(overrides)
    return TwitterSettings.model_validate(raw)


def bare_connector(fake: FakeX, **overrides: Any) -> TwitterConnector:
    """A connector for send() alone: posting never touches the database, so these
    tests skip its (on PostgreSQL, slow) per-test migration."""
    ctx = ConnectorContext(
        name="x", settings=Settings(), ingestor=None,  # type: ignore[arg-type]
        sessions=None,  # type: ignore[arg-type]
        log=logging.LoggerAdapter(logging.getLogger("test.x"), {}),
    )
    return TwitterConnector(twitter_settings(fake, **overrides), ctx)


class Harness:
    """The real connector on a real database with the real ingest pipeline."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 fake: FakeX):
        self.settings = settings
        self.sessions = sessions
        self.fake = fake
        self.ingestor = Ingestor(sessions, Pipeline(settings))

    def connector(self, name: str = "x", **overrides: Any) -> TwitterConnector:
        ctx = ConnectorContext(
            name=name, settings=self.settings, ingestor=self.ingestor, sessions=self.sessions,
            log=logging.LoggerAdapter(logging.getLogger(f"test.{name}"), {}),
        )
        return TwitterConnector(twitter_settings(self.fake, **overrides), ctx)

    @asynccontextmanager
    async def running(self, conn: TwitterConnector) -> AsyncIterator[TwitterConnector]:
        """Run the connector's loop; fail the test if it ends before it is stopped."""
        task = asyncio.create_task(conn.run())
        try:
            yield conn
        finally:
            ended_early = task.done()
            await conn.stop()
            await asyncio.wait_for(task, 5)  # re-raises a crash
            assert not ended_early, "run() returned before stop()"

    async def reports(self) -> list[Report]:
        async with self.sessions() as s:
            return list((await s.execute(select(Report).order_by(Report.id))).scalars())

    async def ticket_count(self) -> int:
        async with self.sessions() as s:
            return (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()

    async def samples(self) -> list[EngagementSample]:
        async with self.sessions() as s:
            return list((await s.execute(
                select(EngagementSample).order_by(EngagementSample.id))).scalars())


async def eventually(check: Callable[[], Awaitable[Any] | Any], within: float = 10.0,
                     what: str = "condition") -> None:
    """Wait until `check()` holds (the connector works in the background)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
