"""Engagement samples: the public_metrics of ticketed tweets over time.

The virality detector reads `engagement_samples` (one row per tweet per change), so a
sample is written only when a tweet's metrics differ from its last sample: a quiet
tweet costs a lookup but no rows. The newest metrics are also copied into the report's
`meta.public_metrics`, where staff see them on the ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.domain import OPEN_STATES
from storage import repo
from storage.models import EngagementSample, Ticket
from storage.models import Report as ReportRow


@dataclass(frozen=True, slots=True)
class Tracked:
    report_id: int
    ticket_id: int
    tweet_id: str
    posted_at: datetime | None = None


async def candidates(
    sessions: async_sessionmaker[AsyncSession], source: str, *, now: datetime,
    max_age_hours: float, limit: int,
) -> list[Tracked]:
    """Tweets of this source on open tickets, posted within the age limit, newest
    first (the newest are the ones that can still take off). Merged tickets count as
    their surviving ticket."""
    cutoff = now - timedelta(hours=max_age_hours)
    posted = func.coalesce(ReportRow.sent_at, ReportRow.received_at)
    async with sessions() as session:
        rows = (await session.execute(
            select(ReportRow.id, ReportRow.ticket_id, ReportRow.external_id,
                   Ticket.merged_into_id, posted)
            .join(Ticket, Ticket.id == ReportRow.ticket_id)
            .where(ReportRow.source == source, posted >= cutoff,
                   or_(Ticket.state.in_([str(s) for s in OPEN_STATES]),
                       Ticket.merged_into_id.is_not(None)))
            .order_by(ReportRow.id.desc())
            .limit(limit)
        )).all()
        out: list[Tracked] = []
        survivors: dict[int, Ticket | None] = {}
        for rid, tid, ext, merged, at in rows:
            if merged is not None:
                if tid not in survivors:
                    survivors[tid] = await repo.resolve_ticket(
                        session, await session.get(Ticket, tid))
                target = survivors[tid]
                if target is None or target.state not in OPEN_STATES:
                    continue
                tid = target.id
            out.append(Tracked(rid, tid, ext, _aware(at)))
        return out


async def record(
    sessions: async_sessionmaker[AsyncSession],
    observed: Iterable[tuple[Tracked, dict[str, int]]],
    *, at: datetime,
) -> int:
    """Write a sample for every tweet whose metrics changed; returns how many."""
    items = [(t, m) for t, m in observed if m]
    if not items:
        return 0
    async with sessions() as session, session.begin():
        last = await _last_metrics(session, [t.report_id for t, _ in items])
        rows: list[dict[str, Any]] = []
        for tracked, metrics in items:
            if last.get(tracked.report_id) == metrics:
                continue
            last[tracked.report_id] = metrics
            rows.append({"report_id": tracked.report_id, "ticket_id": tracked.ticket_id,
                         "at": at, "metrics": metrics})
        if rows:
            await session.execute(EngagementSample.__table__.insert(), rows)
            await _copy_to_reports(session, rows, at)
        return len(rows)


async def _last_metrics(
    session: AsyncSession, report_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(report_ids), 400):
        chunk = list(report_ids[i : i + 400])
        newest = (
            select(func.max(EngagementSample.id))
            .where(EngagementSample.report_id.in_(chunk))
            .group_by(EngagementSample.report_id)
        )
        found = await session.execute(
            select(EngagementSample.report_id, EngagementSample.metrics)
            .where(EngagementSample.id.in_(newest))
        )
        out.update({rid: dict(m or {}) for rid, m in found})
    return out


async def _copy_to_reports(
    session: AsyncSession, rows: list[dict[str, Any]], at: datetime
) -> None:
    ids = [r["report_id"] for r in rows]
    metas: dict[int, Any] = {}
    for i in range(0, len(ids), 400):
        metas.update((await session.execute(
            select(ReportRow.id, ReportRow.meta).where(ReportRow.id.in_(ids[i : i + 400]))
        )).all())
    changes = []
    for row in rows:
        meta = dict(metas.get(row["report_id"]) or {})
        meta["public_metrics"] = row["metrics"]
        meta["metrics_at"] = at.isoformat(timespec="seconds")
        changes.append({"id": row["report_id"], "meta": meta})
    # ORM bulk UPDATE by primary key: one executemany, not one statement per row.
    await session.execute(update(ReportRow), changes)


def _aware(value: datetime | None) -> datetime | None:
    """coalesce() loses the column type: SQLite hands back a naive UTC value."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
