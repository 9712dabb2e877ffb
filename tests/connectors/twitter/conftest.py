"""Fixtures: a fake X API server and the harness that runs the real connector."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import Harness


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    fake = FakeX()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def harness(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                  fake_x: FakeX) -> AsyncIterator[Harness]:
    h = Harness(settings, sessions, fake_x)
    yield h
    await h.ingestor.close()
