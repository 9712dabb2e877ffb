"""Assembles the running service: storage, ingest, outbox, web and the connectors.

`aggregator run` is this plus signal handling; tests start it in-process.
Shutdown order matters: stop taking input (connectors, then the web server, which
lets in-flight requests finish), flush ingest, stop the outbox, close the database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.intake.port import Connector, ConnectorContext
from aggregator.intake.ingest import Ingestor
from aggregator.runtime.logs import connector_logger
from aggregator.delivery.outbox import OutboxSender
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.plugins import connector_type
from aggregator.runtime.supervisor import Supervisor
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import current_revision, upgrade
from storage.models import Ticket

log = logging.getLogger("aggregator.runtime.service")


class Service:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = create_engine(settings.database.url, echo=settings.database.echo)
        self.sessions = session_factory(self.engine)
        self.read_engine = (
            create_engine(settings.database.url, read_only=True)
            if is_sqlite(settings.database.url) else self.engine
        )
        self.read_sessions = session_factory(self.read_engine, read_only=True)
        self.pipeline = Pipeline(settings, matcher=_build_matcher(settings))
        self.ingestor = Ingestor(self.sessions, self.pipeline, on_commit=self.outbox_wake)
        self.connectors: dict[str, Connector] = {}
        for name, conf in settings.connectors.items():
            if not conf.enabled:
                continue
            ctx = ConnectorContext(name=name, settings=settings, ingestor=self.ingestor,
                                   sessions=self.sessions, log=connector_logger(name))
            self.connectors[name] = connector_type(conf.type)(conf, ctx)
        self.supervisor = Supervisor(self.connectors)
        self.outbox = OutboxSender(self.sessions, self.connectors)
        self._runner: web.AppRunner | None = None
        self.web_url: str | None = None

    def outbox_wake(self) -> None:
        self.outbox.wake()

    async def migrate_if_needed(self) -> None:
        if self.settings.database.migrate_on_start or await current_revision(self.engine) is None:
            await upgrade(self.engine)

    async def start(self) -> None:
        await self.migrate_if_needed()
        await self.ingestor.start()
        if self.settings.web.enabled:
            from aggregator.web.app import build_app

            self._runner = web.AppRunner(build_app(self), access_log=None,
                                         shutdown_timeout=5.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.web.host, self.settings.web.port)
            await site.start()
            host, port = self._runner.addresses[0][:2]
            self.web_url = f"http://{_url_host(host)}:{port}"
            log.info("web listening", extra={"url": self.web_url})
        self.supervisor.start()
        self.outbox.start()
        log.info("service started", extra={"connectors": sorted(self.connectors)})

    async def stop(self) -> None:
        log.info("service stopping")
        try:
            await self.supervisor.stop()
        except TimeoutError:
            log.warning("a connector did not stop in time")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.ingestor.close()
        await self.outbox.stop()
        await self.engine.dispose()
        await self.read_engine.dispose()
        log.info("service stopped")

    async def ticket_extras(self, session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        """Extra sections of GET /api/tickets/{number} contributed by later features."""
        from aggregator.extras import ticket_extras

        return await ticket_extras(session, ticket)

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _build_matcher(settings: Settings) -> Any:
    try:
        from aggregator.dedup import build_matcher
    except ImportError:
        return None
    return build_matcher(settings)


async def run_forever(service: Service, stop: asyncio.Event) -> None:
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
