"""Operations metrics in the Prometheus text format (`GET /metrics`).

Counted as things happen: reports stored per connector (new, or already stored: a
re-delivery) and the ingest latency (from a connector handing reports over to their
commit), told by the ingest commit hook. Read at each scrape: every connector's and
job's state, restarts and errors (the supervisor's snapshot, as /healthz shows it),
tickets by state, the outbox backlog and dead messages, escalations, and each
channel's burst level with its reports in the last hour against the expected count.
Each service has its own registry, so several services in one process (tests) never
mix their counts.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import TicketState
from aggregator.events import EventType
from aggregator.intake.ingest import Committed
from aggregator.monitoring.sql import epoch
from aggregator.virality.channels import verdicts as channel_verdicts
from aggregator.web.keys import SERVICE
from storage.models import Outbox, Ticket, TicketEvent
from storage.sqlite_heap import heap_parts
from storage.types import utcnow

STATES = ("starting", "running", "backoff", "stopped")
# `*_created` timestamps beside every counter only add noise to a scrape.
disable_created_metrics()
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reports = Counter(
            "aggregator_reports_ingested", "Reports stored by ingest, by connector; result="
            "new, or duplicate (already stored: a re-delivery or retry)",
            ["connector", "result"], registry=self.registry)
        self.latency = Histogram(
            "aggregator_ingest_latency_seconds", "Seconds from a connector handing reports "
            "to ingest until they are committed", ["connector"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.snapshot: dict[str, Any] = {}
        self.registry.register(_Snapshot(self))

    def observe(self, committed: Sequence[Committed]) -> None:
        """The ingest commit hook."""
        for c in committed:
            if c.new_reports:
                self.reports.labels(c.source, "new").inc(c.new_reports)
            if c.seen_before:
                self.reports.labels(c.source, "duplicate").inc(c.seen_before)
            self.latency.labels(c.source).observe(c.seconds)

    async def refresh(self, session: AsyncSession, health: dict[str, Any]) -> None:
        """Read what is current (the database may be away: then only that is said)."""
        snap: dict[str, Any] = {"health": health, "database_up": 0}
        self.snapshot = snap
        snap["tickets"] = dict((await session.execute(
            select(Ticket.state, func.count()).where(Ticket.merged_into_id.is_(None))
            .group_by(Ticket.state))).all())
        snap["outbox"] = dict((await session.execute(
            select(Outbox.state, func.count()).where(Outbox.state.in_(("pending", "dead")))
            .group_by(Outbox.state))).all())
        oldest = (await session.execute(
            select(func.min(epoch(Outbox.created_at))).where(Outbox.state == "pending")
        )).scalar_one_or_none()
        snap["outbox_oldest"] = None if oldest is None else time.time() - float(oldest)
        snap["escalated"] = dict((await session.execute(
            select(Ticket.escalation_level, func.count())
            .where(Ticket.escalation_level > 0, Ticket.merged_into_id.is_(None),
                   Ticket.state.in_([s.value for s in (TicketState.NEW,
                                                       TicketState.IN_PROGRESS,
                                                       TicketState.WAITING)]))
            .group_by(Ticket.escalation_level))).all())
        snap["escalations"] = (await session.execute(
            select(func.count()).select_from(TicketEvent)
            .where(TicketEvent.type == str(EventType.ESCALATED)))).scalar_one()
        snap["channels"] = await channel_verdicts(session)
        snap["database_up"] = 1
        snap["at"] = utcnow()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Snapshot(Collector):
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self.metrics.snapshot
        health = snap.get("health") or {}
        for group, label in (("connectors", "connector"), ("jobs", "job")):
            parts = health.get(group) or {}
            kind = label
            state = GaugeMetricFamily(f"aggregator_{kind}_state", f"1 for the {kind}'s "
                                      "current state (starting, running, backoff, stopped)",
                                      labels=[label, "state"])
            restarts = CounterMetricFamily(f"aggregator_{kind}_restarts", f"Times the "
                                           f"supervisor restarted the {kind}", labels=[label])
            errors = CounterMetricFamily(f"aggregator_{kind}_errors", f"Times the {kind} "
                                         "crashed with an error", labels=[label])
            for name, h in sorted(parts.items()):
                for s in STATES:
                    state.add_metric([name, s], 1.0 if h.get("state") == s else 0.0)
                restarts.add_metric([name], float(h.get("restarts") or 0))
                errors.add_metric([name], float(h.get("errors") or 0))
            yield from (state, restarts, errors)
        heap = heap_parts()
        if heap and any(heap.values()):  # outside Python's heap: RSS needs both
            yield _gauge("aggregator_sqlite_heap_bytes", "Memory SQLite holds in this "
                         "process: page caches, and the rest (prepared statements, "
                         "schemas)", [((k,), v) for k, v in heap.items()], ["part"])
        yield _gauge("aggregator_database_up", "1 when the last scrape could read the "
                     "database", [((), snap.get("database_up", 0))])
        if not snap.get("database_up"):
            return
        yield _gauge("aggregator_tickets", "Tickets by state (merged ones left out)",
                     [((s.value,), snap["tickets"].get(s.value, 0)) for s in TicketState],
                     ["state"])
        yield _gauge("aggregator_outbox_messages", "Outbox messages waiting to be sent "
                     "(pending) and given up after every retry (dead)",
                     [((s,), snap["outbox"].get(s, 0)) for s in ("pending", "dead")],
                     ["state"])
        yield _gauge("aggregator_outbox_oldest_pending_seconds", "Age of the oldest "
                     "pending outbox message", [((), snap["outbox_oldest"] or 0.0)])
        yield _gauge("aggregator_escalated_open_tickets", "Open tickets by escalation level",
                     [((str(lv),), n) for lv, n in sorted(snap["escalated"].items())],
                     ["level"])
        channels = sorted(snap["channels"].items())
        for key, name, doc in (
                ("level", "virality_level", "Burst level of all reports arriving on a "
                 "channel (0 normal, 1-3 a flood across tickets)"),
                ("last_hour", "reports_last_hour", "Reports on a channel in the last hour, "
                 "by their own times"),
                ("expected_last_hour", "expected_reports_last_hour", "Reports a channel "
                 "is expected to get in an hour (its learnt baseline)")):
            yield _gauge(f"aggregator_channel_{name}", doc,
                         [((ch,), v.get(key) or 0) for ch, v in channels], ["channel"])
        total = CounterMetricFamily("aggregator_escalations", "Escalations recorded "
                                    "(escalated events in the audit log)")
        total.add_metric([], float(snap["escalations"]))
        yield total


def _gauge(name: str, doc: str, values: list[tuple[tuple[str, ...], float]],
           labels: Sequence[str] = ()) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=list(labels))
    for lv, v in values:
        g.add_metric(list(lv), float(v))
    return g


def route(metrics: Metrics, token: str | None) -> web.RouteDef:
    """`GET /metrics`; with a token, only for `Authorization: Bearer TOKEN`."""
    expected = f"Bearer {token}".encode() if token else None

    async def handler(request: web.Request) -> web.Response:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.Response(status=401, text="send Authorization: Bearer TOKEN\n",
                                    headers={"WWW-Authenticate": "Bearer"})
        ctx = request.app[SERVICE]
        try:
            async with ctx.read_sessions() as session:
                await metrics.refresh(session, ctx.health())
        except Exception:  # noqa: BLE001 - a scrape says the database is away, not 500
            pass
        # The classic text format (0.0.4), which every Prometheus version reads.
        return web.Response(body=metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return web.get("/metrics", handler)
