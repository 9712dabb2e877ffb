"""Assembles the running service: storage, features, ingest, outbox, web, connectors
and jobs.

`aggregator run` is this plus signal handling; tests start it in-process.
Shutdown order matters: stop taking input (connectors and jobs, then the web server,
which lets in-flight requests finish), flush ingest, stop the outbox, close the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from aggregator.config import Settings
from aggregator.dedup.feature import DedupFeature
from aggregator.delivery.outbox import OutboxSender
from aggregator.escalation.feature import EscalationFeature
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.plugins import connector_type
from aggregator.intake.port import Connector, ConnectorContext
from aggregator.monitoring.feature import MonitoringFeature
from aggregator.runtime import leases
from aggregator.runtime.census import Census
from aggregator.runtime.features import Feature, FeatureContext
from aggregator.runtime.jobs import JobRunner
from aggregator.runtime.leased import Leased
from aggregator.runtime.logs import connector_logger
from aggregator.runtime.single import RunLock
from aggregator.runtime.supervisor import Supervisor
from aggregator.signals.feature import SignalsFeature
from aggregator.virality.feature import ViralityFeature
from aggregator.web.app import build_app
from aggregator.web.keys import WebContext
from aggregator.webui.feature import WebUIFeature
from storage.db import create_engine, is_sqlite, open_pool, session_factory
from storage.migrate import current_revision, safe_url, upgrade

log = logging.getLogger("aggregator.service")

# Every optional capability, in the order its contributions apply.
FEATURES: tuple[type[Feature], ...] = (
    DedupFeature, SignalsFeature, ViralityFeature, EscalationFeature, MonitoringFeature,
    WebUIFeature,
)


class Service:
    def __init__(self, settings: Settings, features: Sequence[type[Feature]] = FEATURES):
        self.settings = settings
        self.engine = create_engine(settings.database.url, echo=settings.database.echo)
        self.sessions = session_factory(self.engine)
        self.read_engine = (
            create_engine(settings.database.url, read_only=True)
            if is_sqlite(settings.database.url) else self.engine
        )
        self.read_sessions = session_factory(self.read_engine, read_only=True)
        # How many processes share the database (always 1 on SQLite).
        self.census = Census(self.sessions, shared=not is_sqlite(settings.database.url))
        fctx = FeatureContext(settings, self.sessions, self.read_sessions, self.outbox_wake)
        self.features = [f for f in (cls(fctx) for cls in features) if f.enabled()]
        matchers = [m for f in self.features if (m := f.matcher()) is not None]
        self.pipeline = Pipeline(settings, matcher=matchers[0] if matchers else None,
                                 hooks=[h for f in self.features for h in f.ingest_hooks()])
        self.ingestor = Ingestor(self.sessions, self.pipeline, on_commit=self.outbox_wake,
                                 commit_hooks=[h for f in self.features
                                               for h in f.commit_hooks()])
        self.connectors: dict[str, Connector] = {}
        for name, conf in settings.connectors.items():
            if not conf.enabled:
                continue
            ctx = ConnectorContext(name=name, settings=settings, ingestor=self.ingestor,
                                   sessions=self.sessions, log=connector_logger(name),
                                   read_sessions=self.read_sessions,
                                   processes=self.census)
            cls = connector_type(conf.type)
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise TypeError(f"connector type {conf.type!r} is not a Connector")
            self.connectors[name] = cls(conf, ctx)
        self.jobs = {job.name: JobRunner(job, self.sessions)
                     for f in self.features for job in f.jobs()}
        # Polling connectors run in one process at a time (a lease in the database).
        supervised = {n: Leased(c, self.sessions) if c.exclusive() else c
                      for n, c in self.connectors.items()}
        retry = settings.retry
        self.supervisor = Supervisor(supervised, self.jobs,
                                     base_delay=retry.restart.initial.total_seconds(),
                                     max_delay=retry.restart.max.total_seconds())
        senders = {k: v for f in self.features for k, v in f.senders().items()}
        links = [link for f in self.features if (link := f.survey_link()) is not None]
        leased = {n: s for n, s in supervised.items() if isinstance(s, Leased)}
        self.outbox = OutboxSender(
            self.sessions, {**senders, **self.connectors},
            survey_link=links[0] if links else None,
            may_send=lambda name: name not in leased or leased[name].holding,
            read_sessions=self.read_sessions,
            max_attempts=retry.delivery.max_attempts,
            base_delay=retry.delivery.initial.total_seconds(),
            max_delay=retry.delivery.max.total_seconds())
        self._runner: web.AppRunner | None = None
        self.web_url: str | None = None
        self.run_lock = RunLock(settings.database.url)

    def outbox_wake(self) -> None:
        self.outbox.wake()

    def health(self) -> dict[str, Any]:
        return {"process": leases.PROCESS_ID, "processes": self.census(),
                **self.supervisor.snapshot(),
                "outbox": self.outbox.health()}

    def web_context(self) -> WebContext:
        return WebContext(
            settings=self.settings, sessions=self.sessions, read_sessions=self.read_sessions,
            wake_outbox=self.outbox_wake, health=self.health,
            sections={k: v for f in self.features for k, v in f.sections().items()},
        )

    async def migrate_if_needed(self) -> None:
        revision = await current_revision(self.engine)
        if self.settings.database.migrate_on_start or revision is None:
            revision = await upgrade(self.engine)
        log.info("database ready", extra={"url": safe_url(self.engine), "revision": revision})

    async def start(self) -> None:
        sole = is_sqlite(self.settings.database.url)
        if sole:
            self.run_lock.acquire()
        await self.migrate_if_needed()
        if sole:
            await self._free_what_the_dead_held()
            await open_pool(self.read_engine)
        await self.census.start()
        await self.ingestor.start()
        if self.settings.web.enabled:
            routes = [r for f in self.features for r in f.routes()]
            routes += [r for c in self.connectors.values() for r in c.routes()]
            self._runner = web.AppRunner(build_app(self.web_context(), routes),
                                         access_log=None, shutdown_timeout=5.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.web.host, self.settings.web.port)
            await site.start()
            host, port = self._runner.addresses[0][:2]
            self.web_url = f"http://{_url_host(host)}:{port}"
            mounts = sorted({_mount(r.resource.canonical) for r in self._runner.app.router.routes()
                             if r.resource is not None})
            # The message is a contract (scripts wait for it); details are fields.
            log.info("web listening", extra={"url": self.web_url, "serves": mounts})
        self.supervisor.start()
        self.outbox.start()
        log.info("service started", extra={
            "connectors": {n: c.type for n, c in sorted(self.settings.connectors.items())
                           if n in self.connectors},
            "features": [f.name for f in self.features], "jobs": sorted(self.jobs)})

    async def _free_what_the_dead_held(self) -> None:
        """On SQLite the run lock proves this is the only daemon, so every lease and
        outbox claim in the database is one a process killed mid-work (kill -9, power
        loss) never let go of. Free them at once: waiting for them to expire kept the
        polling connectors idle for seconds after each crash restart, hourly jobs for
        hours, and a recipient's messages for a claim's lifetime."""
        freed = await leases.release_all(self.sessions)
        claims = await self.outbox.release_all_claims()
        if freed or claims:
            log.info("freed what a previous process held",
                     extra={"leases": freed, "outbox_claims": claims})

    async def stop(self) -> None:
        log.info("service stopping")
        try:
            await self.supervisor.stop()
        except TimeoutError:
            log.warning("a connector or job did not stop in time")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.census.stop()
        await self.ingestor.close()
        await self.outbox.stop()
        await self.engine.dispose()
        await self.read_engine.dispose()
        self.run_lock.release()
        log.info("service stopped")

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _mount(path: str) -> str:
    """Where a route lives, for the start-up line: /api, /hooks/lapor, /metrics..."""
    parts = [p for p in path.split("/") if p and "{" not in p]
    keep = 2 if parts[:1] == ["hooks"] else 1
    return "/" + "/".join(parts[:keep])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def run_forever(service: Service, stop: asyncio.Event) -> None:
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
