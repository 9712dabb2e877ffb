"""The one small surface between a channel and the core.

A connector is constructed with its validated settings and a `ConnectorContext` (its
port), then `run()` is awaited by the supervisor until it is cancelled. Raising from
`run()` means "I crashed": the supervisor restarts it with backoff while the others go
on. Everything a connector does outside its channel goes through the port: it never
imports the core's tables. Writes are one short transaction each; reads return plain
data.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import ConnectorSettings, Settings
from aggregator.domain import IngestResult, Report
from aggregator.intake import observations
from aggregator.intake.errors import StoreUnavailable, guarded
from aggregator.intake.ingest import Ingestor
from aggregator.intake.observations import SignalSample
from aggregator.intake.records import Records
from aggregator.messages import OutboundMessage, SendResult
from aggregator.tickets import lookups
from aggregator.tickets.lookups import ReporterView, Thread, TicketView, TrackedReport
from storage import repo

__all__ = [
    "Connector", "ConnectorContext", "ReporterView", "SignalSample", "StoreUnavailable",
    "Thread", "TicketView", "TrackedReport",
]



@dataclass
class ConnectorContext:
    """What the core lends one connector instance (`name` is its configured name, the
    `source` of everything it ingests). Database failures surface as `StoreUnavailable`."""

    name: str
    settings: Settings
    ingestor: Ingestor
    sessions: async_sessionmaker[AsyncSession]
    log: logging.LoggerAdapter[logging.Logger]
    extras: dict[str, Any] = field(default_factory=dict)
    # Reads may use a separate engine (on SQLite: no queueing for the write lock).
    read_sessions: async_sessionmaker[AsyncSession] | None = None
    # How many processes serve this connector's routes now (1 on SQLite), counted
    # every few seconds: a limit meant for the whole deployment is split by it.
    processes: Callable[[], int] = lambda: 1
    records: Records = field(init=False)

    def __post_init__(self) -> None:
        self.records = Records(self.sessions, self.name)
        if self.read_sessions is None:
            self.read_sessions = self.sessions

    def _read(self) -> AsyncSession:
        assert self.read_sessions is not None
        return self.read_sessions()

    # ------------------------------------------------------------------ intake

    @guarded
    async def ingest(
        self, reports: Sequence[Report], cursor: dict[str, Any] | None = None
    ) -> list[IngestResult]:
        """Store reports (with their attachments) and this connector's cursor in one
        transaction. Returns only after the commit: acknowledge to the source after."""
        return await self.ingestor.submit(reports, cursor=cursor, connector=self.name)

    @guarded
    async def load_cursor(self) -> dict[str, Any]:
        async with self.sessions() as session:
            return await repo.load_cursor(session, self.name)

    @guarded
    async def save_cursor(self, cursor: dict[str, Any]) -> None:
        """Move the cursor without reports (input that was read but stores nothing)."""
        async with self.sessions() as session, session.begin():
            await repo.save_cursor(session, self.name, cursor)

    # ------------------------------------------------------------------ reads

    @guarded
    async def stored_report_id(self, external_id: str) -> int | None:
        async with self._read() as s:
            return await lookups.stored_report_id(s, self.name, external_id)

    @guarded
    async def reporter(self, handle: str) -> ReporterView | None:
        async with self._read() as s:
            return await lookups.reporter(s, self.name, handle)

    @guarded
    async def reporter_tickets(self, handle: str, limit: int = 10) -> list[TicketView]:
        """The reporter's tickets (merges followed), most recently active first."""
        async with self._read() as s:
            return [lookups.view(t) for t in
                    await lookups.reporter_tickets(s, self.name, handle, limit)]

    @guarded
    async def reporter_ticket(self, handle: str, number: str) -> TicketView | None:
        """Ticket `number` if this reporter may see it; None otherwise."""
        async with self._read() as s:
            t = await lookups.reporter_ticket(s, self.name, handle, number)
            return lookups.view(t) if t is not None else None

    @guarded
    async def recently_active(self, reporter_id: int, since: datetime, limit: int = 5
                              ) -> list[TicketView]:
        async with self._read() as s:
            return await lookups.recently_active(s, self.name, reporter_id, since, limit)

    @guarded
    async def thread(self, ticket_number: str | None, external_ids: Sequence[str]) -> Thread:
        async with self._read() as s:
            return await lookups.thread(s, self.name, ticket_number, external_ids)

    @guarded
    async def tracked_reports(self, since: datetime, limit: int) -> list[TrackedReport]:
        async with self._read() as s:
            return await lookups.tracked_reports(s, self.name, since, limit)

    @guarded
    async def sent_counts(self, kind: str, since: datetime) -> dict[str, int]:
        async with self._read() as s:
            return await lookups.sent_counts(s, self.name, kind, since)

    @guarded
    async def public_status(self, report_id: int) -> dict[str, Any] | None:
        async with self._read() as s:
            return await lookups.public_status(s, self.name, report_id)

    # ------------------------------------------------------------------ writes

    @guarded
    async def delivery_feedback(
        self, *, message_ids: Sequence[str], delayed: bool, feedback_id: str,
        data: Mapping[str, Any],
    ) -> bool | None:
        """A message we sent bounced or is delayed (see observations.delivery_feedback)."""
        async with self.sessions() as s, s.begin():
            return await observations.delivery_feedback(
                s, self.name, message_ids=message_ids, delayed=delayed,
                feedback_id=feedback_id, data=data)

    @guarded
    async def record_signals(self, samples: Sequence[SignalSample]) -> int:
        async with self.sessions() as s, s.begin():
            return await observations.record_signals(s, samples)

    @guarded
    async def record_survey(self, channel: str, handle: str, number: str, score: int,
                            label: str) -> TicketView | None:
        """`record_survey_answer` of the `overall` rating."""
        async with self.sessions() as s, s.begin():
            return await observations.record_survey(s, self.name, channel, handle, number,
                                                    score, label)

    @guarded
    async def record_survey_answer(self, channel: str, handle: str, number: str,
                                   element: str, score: int, label: str | None = None
                                   ) -> TicketView | None:
        """One satisfaction-survey answer: an IKM element (`aggregator.domain.IKM_ELEMENTS`)
        or `overall`, scored 1-4, by a reporter of a resolved or closed ticket; None
        when the ticket is not theirs or not finished. Every answer is kept."""
        async with self.sessions() as s, s.begin():
            return await observations.record_survey_answer(
                s, self.name, channel, handle, number, element, score, label)

    @guarded
    async def record_survey_comment(self, handle: str, number: str, text: str) -> bool:
        async with self.sessions() as s, s.begin():
            return await observations.record_survey_comment(s, self.name, handle, number,
                                                            text)

    @guarded
    async def set_language(self, handle: str, name: str | None, language: str) -> None:
        async with self.sessions() as s, s.begin():
            await observations.set_language(s, self.name, handle, name, language)


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

    def exclusive(self) -> bool:
        """True for a connector that polls its source: only one process at a time may
        drive it (aggregator/runtime/leased.py). Webhook-fed ones run everywhere."""
        return False
