"""The real email connector on a real database, real Dovecot, real SMTP sink, with
the core's real ingest pipeline and outbox sender."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, closing
from typing import Any

from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.delivery.outbox import OutboxSender
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.port import ConnectorContext
from connectors.email import EmailConnector, EmailSettings
from storage.models import Attachment, Outbox, Report, Ticket, TicketEvent
from tests.connectors.email.dovecot import PASSWORD, Dovecot
from tests.connectors.email.mails import AGENCY
from tests.connectors.email.sink import SmtpSink


def email_settings(dovecot: Dovecot, user: str, sink: SmtpSink | None,
                   **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "email",
        "imap": {"host": dovecot.host, "port": dovecot.port, "security": "plain",
                 "username": user, "password": PASSWORD, "poll_interval": 0.2,
                 "timeout": 10},
        "language": "id",
    }
    if sink is not None:
        raw["smtp"] = {"host": "127.0.0.1", "port": sink.port, "security": "plain",
                       "from_address": AGENCY, "from_name": "Layanan Aduan Pemkot"}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return raw


class Harness:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 dovecot: Dovecot, sink: SmtpSink):
        self.settings = settings
        self.sessions = sessions
        self.dovecot = dovecot
        self.sink = sink
        self.user = dovecot.new_user()
        self.ingestor: Ingestor | None = None
        self.outbox: OutboxSender | None = None

    def connector(self, name: str = "mail", smtp: bool = True, **overrides: Any
                  ) -> EmailConnector:
        if self.ingestor is None:
            self.ingestor = Ingestor(self.sessions, Pipeline(self.settings),
                                     on_commit=lambda: self.outbox and self.outbox.wake())
        ctx = ConnectorContext(
            name=name, settings=self.settings, ingestor=self.ingestor, sessions=self.sessions,
            log=logging.LoggerAdapter(logging.getLogger(f"test.{name}"), {}),
        )
        raw = email_settings(self.dovecot, self.user, self.sink if smtp else None, **overrides)
        return EmailConnector(EmailSettings.model_validate(raw), ctx)

    @asynccontextmanager
    async def running(self, conn: EmailConnector) -> AsyncIterator[EmailConnector]:
        self.outbox = OutboxSender(self.sessions, {conn.name: conn}, poll_interval=0.1,
                                   base_delay=0.1)
        self.outbox.start()
        task = asyncio.create_task(conn.run())
        try:
            yield conn
        finally:
            await conn.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.outbox.stop()

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        self.dovecot.append(self.user, list(messages), folder)

    async def until(self, check: Callable[[], Awaitable[bool]], within: float = 20.0,
                    what: str = "condition", every: float = 0.05) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await check():
                return
            await asyncio.sleep(every)
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_seen(self, n: int, folder: str = "INBOX", within: float = 20.0) -> None:
        """Until `n` mails of the folder carry \\Seen (the last step of a batch)."""
        async def check() -> bool:
            flags = await asyncio.to_thread(self.dovecot.flags, self.user, folder)
            return sum(b"\\Seen" in f for f in flags.values()) >= n
        await self.until(check, within, f"{n} mails flagged \\Seen")

    async def peek_reports(self) -> int:
        """Report count without taking SQLite's write lock (our sessions BEGIN
        IMMEDIATE even to read, so a reader waits out a busy writer): a plain WAL
        reader sees each commit as it lands, which a mid-batch kill needs."""
        url = make_url(self.settings.database.url)
        if url.get_backend_name() != "sqlite":
            return await self.count(Report)

        def read() -> int:
            with closing(sqlite3.connect(url.database or "", timeout=10)) as conn:
                return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])
        return await asyncio.to_thread(read)

    async def count(self, model: Any, *where: Any) -> int:
        async with self.sessions() as s:
            q = select(func.count()).select_from(model)
            for w in where:
                q = q.where(w)
            return (await s.execute(q)).scalar_one()

    async def wait_reports(self, n: int, within: float = 20.0) -> None:
        async def check() -> bool:
            return await self.count(Report) >= n
        await self.until(check, within, f"{n} reports")

    async def reports(self) -> list[Report]:
        async with self.sessions() as s:
            return list((await s.execute(select(Report).order_by(Report.id))).scalars())

    async def report(self, external_id: str) -> Report:
        async with self.sessions() as s:
            return (await s.execute(
                select(Report).where(Report.external_id == external_id))).scalar_one()

    async def ticket_of(self, external_id: str) -> Ticket:
        async with self.sessions() as s:
            return (await s.execute(
                select(Ticket).join(Report, Report.ticket_id == Ticket.id)
                .where(Report.external_id == external_id))).scalar_one()

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        async with self.sessions() as s:
            return list((await s.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id))).scalars())

    async def attachments(self, report_id: int) -> list[Attachment]:
        async with self.sessions() as s:
            return list((await s.execute(
                select(Attachment).where(Attachment.report_id == report_id)
                .order_by(Attachment.id))).scalars())

    async def outbox_rows(self) -> list[Outbox]:
        async with self.sessions() as s:
            return list((await s.execute(select(Outbox).order_by(Outbox.id))).scalars())

    async def outbox_settled(self, within: float = 20.0) -> list[Outbox]:
        async def check() -> bool:
            rows = await self.outbox_rows()
            return all(r.state != "pending" for r in rows)
        await self.until(check, within, "outbox to settle")
        return await self.outbox_rows()
