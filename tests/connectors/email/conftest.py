"""Fixtures: one real Dovecot per test session (a fresh mailbox per test) and an
aiosmtpd sink per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from tests.conftest import server_missing
from tests.connectors.email.dovecot import Dovecot, available
from tests.connectors.email.harness import Harness
from tests.connectors.email.sink import SmtpSink


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    reason = available()
    if reason:
        server_missing(reason)
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[Dovecot]:
    reason = available() or (None if shutil.which("openssl") else "openssl is missing")
    if reason:
        server_missing(reason)
    server = Dovecot(users=10, tls=True).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
async def harness(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                  dovecot: Dovecot, smtp_sink: SmtpSink) -> AsyncIterator[Harness]:
    h = Harness(settings, sessions, dovecot, smtp_sink)
    yield h
    if h.ingestor is not None:
        await h.ingestor.close()
