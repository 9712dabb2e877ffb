"""The one small interface every channel implements.

A connector is constructed with its validated settings and a `ConnectorContext`,
then `run()` is awaited by the supervisor until it is cancelled. Raising from `run()`
means "I crashed": the supervisor restarts it with backoff while the others go on.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import ConnectorSettings, Settings
from aggregator.domain import IngestResult, OutboundMessage, Report, SendResult

if TYPE_CHECKING:
    from aggregator.intake.ingest import Ingestor


@dataclass
class ConnectorContext:
    """What the core lends a connector. Everything a connector touches outside its
    own channel goes through here, which keeps connectors testable in isolation."""

    name: str
    settings: Settings
    ingestor: Ingestor
    sessions: async_sessionmaker[AsyncSession]
    log: logging.LoggerAdapter[logging.Logger]
    extras: dict[str, Any] = field(default_factory=dict)

    async def ingest(
        self, reports: Sequence[Report], cursor: dict[str, Any] | None = None
    ) -> list[IngestResult]:
        """Store reports and this connector's cursor in one transaction.

        Returns only after the commit: acknowledge to the source after this."""
        return await self.ingestor.submit(reports, cursor=cursor, connector=self.name)

    async def load_cursor(self) -> dict[str, Any]:
        from storage.repo import load_cursor

        async with self.sessions() as session:
            return await load_cursor(session, self.name)


class Connector(ABC):
    """Base class of every channel. Subclasses set `Settings` and implement `run`."""

    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, settings: ConnectorSettings, ctx: ConnectorContext):
        self.settings = settings
        self.ctx = ctx
        self.name = ctx.name
        self.log = ctx.log

    @abstractmethod
    async def run(self) -> None:
        """Take input until cancelled. Raise to be restarted with backoff."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop taking input (called before `run` is cancelled on shutdown)."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one outbox message through this channel; raise to retry later."""
        return SendResult(skipped=True)

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        """HTTP routes this connector serves on the main web app (webhooks)."""
        return ()

    def health(self) -> dict[str, Any]:
        """Extra health details shown under /healthz (quota, last poll...)."""
        return {}
