"""One round of the virality watch: feed each open ticket's new reports to its report
detector (by the reports' own times, so a replayed backlog is not a burst) and its new
engagement samples to its engagement detector (aggregator/virality/engagement.py), tick
both to now (decay is seen on the timer, not only on arrivals), and keep the verdict,
the evidence and both detectors' state per ticket.

The ticket's level is the higher of the two streams' levels, and the evidence names the
stream that drove it (`stream`: "reports" or "engagement"). Both states live in the
row's JSON `state` as {"reports": ..., "engagement": ...}; a row saved before the
engagement stream existed holds the report detector's state alone, which is read as
such, and its engagement stream starts from its prior."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.domain import OPEN_STATES
from aggregator.events import SYSTEM, Event, EventType
from aggregator.events import record as record_events
from aggregator.virality.detector import BurstDetector, Decision, DetectorSettings
from aggregator.virality.engagement import EngagementStream, Sample
from storage import repo
from storage.models import EngagementSample, Ticket, Virality
from storage.models import Report as ReportRow
from storage.types import utcnow

ACTIVE = timedelta(hours=3)  # tickets with a report or a sample this recent are watched
MAX_TICKETS = 2000


TICKETS_A_TRANSACTION = 20


@dataclass
class Round:
    changed: int = 0  # tickets whose level changed
    skipped: list[int] = field(default_factory=list)  # of `only`: locked, or no longer watched


async def watch(sessions: async_sessionmaker[AsyncSession], settings: DetectorSettings,
                ids: Sequence[int], now: datetime) -> int:
    """A round over `ids` in transactions of a few tickets each (on SQLite the one
    writer, which intake, the outbox and staff share, waits for each). A ticket another
    job holds (escalation takes tickets FOR UPDATE too, on its own timer) is skipped
    rather than waited for, then visited once more at the end of the round, alone in
    its transaction and waiting for the lock: it holds nothing else while it waits, so
    it cannot deadlock, and a job that keeps colliding with the watch cannot keep a
    viral ticket from being seen. Returns how many tickets changed level."""
    changed, skipped = 0, []
    for chunk in repo.chunks(list(ids), TICKETS_A_TRANSACTION):
        async with sessions() as session, session.begin():
            done = await run_round(session, settings, now, only=chunk)
        changed += done.changed
        skipped += done.skipped
    for ticket_id in skipped:
        async with sessions() as session, session.begin():
            changed += (await run_round(session, settings, now, only=[ticket_id],
                                        wait=True)).changed
    return changed


async def run_round(session: AsyncSession, settings: DetectorSettings,
                    now: datetime | None = None, only: Sequence[int] | None = None,
                    wait: bool = False) -> Round:
    """One transaction of the watch. `only`: just these of the watched tickets, those
    another transaction holds skipped (reported in `skipped`) unless `wait`."""
    now = now or utcnow()
    rows = await _watched(session, now, only, wait)
    done = Round()
    if only is not None and not wait:
        seen = {ticket.id for ticket, _ in rows}
        done.skipped = [i for i in only if i not in seen]
    if not rows:
        return done
    changed = 0
    events: list[Event] = []
    for ticket, row in rows:
        det, stream = _detectors(row, settings)
        new = (await session.execute(
            select(ReportRow.id, func.coalesce(ReportRow.sent_at, ReportRow.received_at))
            .where(ReportRow.ticket_id == ticket.id, ReportRow.id > row.last_report_id)
            .order_by(ReportRow.id).limit(5000)
        )).all()
        for _, at in sorted(new, key=lambda r: aware(r[1])):
            det.arrival(min(aware(at), now))
        if new:
            row.last_report_id = max(r[0] for r in new)
        stream.feed(await _samples(session, ticket.id, stream.last_sample_id), now)
        reports, engagement = det.tick(now), stream.tick(now)
        driver = _driver(reports, engagement)
        level, score = driver.level, max(reports.score, engagement.score)
        evidence = {**reports.evidence,
                    "stream": "engagement" if driver is engagement else "reports",
                    "reports_level": reports.level,
                    "engagement_stream": {"level": engagement.level,
                                          "score": engagement.score, **engagement.evidence},
                    "engagement": await _engagement(session, ticket.id)}
        if level != row.level:
            events.append(Event(ticket.id, EventType.VIRALITY_CHANGED, SYSTEM, {
                "from": row.level, "to": level, "score": round(score, 2),
                "stream": evidence["stream"], "evidence": _brief(evidence)}))
            changed += 1
        row.level = level
        row.peak_level = max(row.peak_level, level)
        row.score = round(score, 4)
        row.evidence = _brief(evidence)
        row.state = {"reports": det.to_state(), "engagement": stream.to_state()}
        row.updated_at = now
        ticket.virality_score = max(0.0, round(score, 4))
    await record_events(session, events)
    done.changed = changed
    return done


def _driver(reports: Decision, engagement: Decision) -> Decision:
    """The stream behind the ticket's verdict: the higher level, then the higher score
    (reports win a tie: they are the complaint itself)."""
    if (engagement.level, engagement.score) > (reports.level, reports.score):
        return engagement
    return reports


def _watching(now: datetime) -> Any:
    """Open tickets with a recent report or engagement sample, or still at a level."""
    recent = select(ReportRow.ticket_id).where(ReportRow.received_at >= now - ACTIVE)
    # Per ticket, on the (ticket_id, at) index: samples have no index on time alone.
    shared = select(EngagementSample.id).where(EngagementSample.ticket_id == Ticket.id,
                                               EngagementSample.at >= now - ACTIVE).exists()
    hot = select(Virality.ticket_id).where(or_(Virality.level > 0, Virality.score > 0))
    return (Ticket.merged_into_id.is_(None),
            Ticket.state.in_([s.value for s in OPEN_STATES]),
            or_(Ticket.id.in_(recent), shared, Ticket.id.in_(hot)))


async def watched_ids(session: AsyncSession, now: datetime) -> list[int]:
    """The tickets a round looks at (read only: a read session will do)."""
    return list((await session.execute(
        select(Ticket.id).where(*_watching(now)).order_by(Ticket.id.desc()).limit(MAX_TICKETS)
    )).scalars())


async def _watched(session: AsyncSession, now: datetime, only: Sequence[int] | None,
                   wait: bool = False) -> list[tuple[Ticket, Virality]]:
    query = select(Ticket).where(*_watching(now))
    if only is not None:
        query = query.where(Ticket.id.in_(list(only)))
    tickets = list((await session.execute(
        query.order_by(Ticket.id.desc()).limit(MAX_TICKETS)
        .with_for_update(skip_locked=not wait)
    )).scalars())
    if not tickets:
        return []
    found: dict[int, Virality] = {}
    for chunk in repo.chunks([t.id for t in tickets]):
        found.update((v.ticket_id, v) for v in (await session.execute(
            select(Virality).where(Virality.ticket_id.in_(chunk)))).scalars())
    out = []
    for t in tickets:
        row = found.get(t.id)
        if row is None:
            row = Virality(ticket_id=t.id, level=0, peak_level=0, score=0.0, state={},
                           evidence={}, last_report_id=0, updated_at=now)
            session.add(row)
        out.append((t, row))
    return out


def _detectors(row: Virality, settings: DetectorSettings
               ) -> tuple[BurstDetector, EngagementStream]:
    """Both streams from the row; what cannot be read (settings changed, an older
    layout) starts again from its prior."""
    state = row.state or {}
    saved = state.get("reports", state if "v" in state else None)
    det = BurstDetector(settings)
    if saved:
        try:
            det = BurstDetector.from_state(saved, settings)
        except (ValueError, KeyError, TypeError):
            pass
    return det, EngagementStream.start(state.get("engagement"))


async def _samples(session: AsyncSession, ticket_id: int, after: int) -> list[Sample]:
    rows = (await session.execute(
        select(EngagementSample.id, EngagementSample.report_id, EngagementSample.at,
               EngagementSample.metrics)
        .where(EngagementSample.ticket_id == ticket_id, EngagementSample.id > after)
        .order_by(EngagementSample.id).limit(20000)
    )).all()
    return [Sample(i, rid, aware(at), metrics or {}) for i, rid, at, metrics in rows]


async def _engagement(session: AsyncSession, ticket_id: int) -> dict[str, int]:
    """The latest public counters of the ticket's posts, summed (staff see the reach)."""
    newest = (select(func.max(EngagementSample.id))
              .where(EngagementSample.ticket_id == ticket_id)
              .group_by(EngagementSample.report_id))
    total: dict[str, int] = {}
    for (metrics,) in await session.execute(
            select(EngagementSample.metrics).where(EngagementSample.id.in_(newest))):
        for k, v in (metrics or {}).items():
            if isinstance(v, int | float):
                total[k] = total.get(k, 0) + int(v)
    return total


def _brief(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence rounded for people (and small rows)."""
    def tidy(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 2)
        if isinstance(v, dict):
            return {k: tidy(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [tidy(x) for x in v]
        return v
    return tidy(evidence)


def aware(value: datetime) -> datetime:
    """Naive times from SQLite are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
