"""One round of the virality watch: feed each open ticket's new reports to its burst
detector (by the reports' own times, so a replayed backlog is not a burst), tick every
watched detector to now (decay is seen on the timer, not only on arrivals), and keep the
verdict, the evidence and the detector's state per ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OPEN_STATES
from aggregator.events import SYSTEM, Event, EventType
from aggregator.events import record as record_events
from aggregator.virality.detector import BurstDetector, DetectorSettings
from storage import repo
from storage.models import EngagementSample, Ticket, Virality
from storage.models import Report as ReportRow
from storage.types import utcnow

ACTIVE = timedelta(hours=3)  # tickets with a report this recent are watched
MAX_TICKETS = 2000


async def run_round(session: AsyncSession, settings: DetectorSettings,
                    now: datetime | None = None) -> int:
    """Returns how many tickets changed level."""
    now = now or utcnow()
    rows = await _watched(session, now)
    if not rows:
        return 0
    changed = 0
    events: list[Event] = []
    for ticket, row in rows:
        det = _detector(row, settings)
        new = (await session.execute(
            select(ReportRow.id, func.coalesce(ReportRow.sent_at, ReportRow.received_at))
            .where(ReportRow.ticket_id == ticket.id, ReportRow.id > row.last_report_id)
            .order_by(ReportRow.id).limit(5000)
        )).all()
        for _, at in sorted(new, key=lambda r: _aware(r[1])):
            det.arrival(min(_aware(at), now))
        if new:
            row.last_report_id = max(r[0] for r in new)
        decision = det.tick(now)
        evidence = {**decision.evidence, "engagement": await _engagement(session, ticket.id)}
        if decision.level != row.level:
            events.append(Event(ticket.id, EventType.VIRALITY_CHANGED, SYSTEM, {
                "from": row.level, "to": decision.level, "score": round(decision.score, 2),
                "evidence": _brief(evidence)}))
            changed += 1
        row.level = decision.level
        row.peak_level = max(row.peak_level, decision.level)
        row.score = round(decision.score, 4)
        row.evidence = _brief(evidence)
        row.state = det.to_state()
        row.updated_at = now
        ticket.virality_score = max(0.0, round(decision.score, 4))
    await record_events(session, events)
    return changed


async def _watched(session: AsyncSession, now: datetime) -> list[tuple[Ticket, Virality]]:
    recent = select(ReportRow.ticket_id).where(ReportRow.received_at >= now - ACTIVE)
    hot = select(Virality.ticket_id).where(or_(Virality.level > 0, Virality.score > 0))
    tickets = list((await session.execute(
        select(Ticket)
        .where(Ticket.merged_into_id.is_(None),
               Ticket.state.in_([s.value for s in OPEN_STATES]),
               or_(Ticket.id.in_(recent), Ticket.id.in_(hot)))
        .order_by(Ticket.id.desc()).limit(MAX_TICKETS)
        .with_for_update(skip_locked=True)
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


def _detector(row: Virality, settings: DetectorSettings) -> BurstDetector:
    if row.state:
        try:
            return BurstDetector.from_state(row.state, settings)
        except (ValueError, KeyError, TypeError):
            pass  # settings changed: start again from the prior
    return BurstDetector(settings)


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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
