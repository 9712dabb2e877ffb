"""The figures of a period: volume, response times, SLA shares, backlog and units.

Tickets are counted in the period they were received (their cohort): how many came
in, how fast they got a first answer and a resolution (in working time where the SLA
calendar has working hours), and the share that met each deadline. Times and
deadlines are read from the tickets' own columns (set by staff actions, moved by the
SLA pause); the audit log gives the rest (aggregator/monitoring/activity.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OPEN_STATES, TicketState
from aggregator.monitoring import timing
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.scope import origin_channel, ticket_conditions
from aggregator.monitoring.sql import day_number, epoch
from aggregator.monitoring.texts import AGE_BUCKETS
from aggregator.sections import AccessSettings
from storage.accounts import Principal
from storage.models import Report, Ticket

NONE_UNIT = ""  # how tickets without a unit are keyed in per-unit figures
OPEN = [s.value for s in OPEN_STATES]


def ranked(counts: Counter[str]) -> dict[str, int]:
    """Most first; ties by name, so the order never depends on the database's."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class Cohort:
    """The tickets received in the period, one array entry per ticket."""

    ids: np.ndarray
    created: np.ndarray
    first_response: np.ndarray
    first_response_due: np.ndarray
    resolved: np.ndarray
    resolution_due: np.ndarray
    report_count: np.ndarray
    state: list[str]
    kind: list[str]
    unit: list[str]
    channel: list[str]

    def __len__(self) -> int:
        return len(self.ids)


async def load_cohort(session: AsyncSession, period: Period, scope: Scope,
                      principal: Principal, rules: AccessSettings, extra: Sequence[Any] = ()
                      ) -> tuple[Cohort, list[tuple[Any, ...]]]:
    """The period's tickets; with `extra` columns, also those per ticket (same order)."""
    stmt = select(
        Ticket.id, epoch(Ticket.created_at), epoch(Ticket.first_response_at),
        epoch(Ticket.first_response_due_at), epoch(Ticket.resolved_at),
        epoch(Ticket.sla_due_at), Ticket.report_count, Ticket.state, Ticket.kind,
        Ticket.unit, origin_channel(), *extra,
    ).where(Ticket.created_at >= period.start, Ticket.created_at < period.end,
            *ticket_conditions(principal, rules, scope))
    if extra:
        stmt = stmt.order_by(Ticket.created_at, Ticket.id)
    rows = (await session.execute(stmt)).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * (11 + len(extra))

    def floats(i: int) -> np.ndarray:
        return np.array(cols[i], dtype=np.float64)

    return Cohort(
        ids=np.array(cols[0], dtype=np.int64), created=floats(1), first_response=floats(2),
        first_response_due=floats(3), resolved=floats(4), resolution_due=floats(5),
        report_count=np.array(cols[6], dtype=np.int64), state=list(cols[7]),
        kind=list(cols[8]), unit=[u or NONE_UNIT for u in cols[9]],
        channel=[c or "" for c in cols[10]],
    ), [tuple(r[11:]) for r in rows] if extra else []


@dataclass
class Measured:
    """Per ticket of a cohort: working seconds to the first response and to the
    resolution, and each SLA's outcome."""

    first_response: np.ndarray
    resolution: np.ndarray
    sla_first: np.ndarray
    sla_resolution: np.ndarray


def measure(c: Cohort, period: Period, now: float) -> Measured:
    clock = timing.WorkingClock(period.cal, c.created, c.first_response, c.resolved)
    closed = np.array([s == TicketState.CLOSED.value for s in c.state], dtype=bool)
    first = timing.sla_outcomes(c.first_response, c.first_response_due, now)
    res = timing.sla_outcomes(c.resolved, c.resolution_due, now)
    # Closed without an answer or a resolution (spam, a duplicate): no deadline applies.
    first[closed & np.isnan(c.first_response)] = timing.NO_TARGET
    res[closed & np.isnan(c.resolved)] = timing.NO_TARGET
    return Measured(clock.between(c.created, c.first_response),
                    clock.between(c.created, c.resolved), first, res)


def times(m: Measured, mask: np.ndarray | None = None) -> dict[str, Any]:
    sel = slice(None) if mask is None else mask
    return {
        "first_response": timing.durations(m.first_response[sel]),
        "resolution": timing.durations(m.resolution[sel]),
    }


def slas(m: Measured, mask: np.ndarray | None = None) -> dict[str, Any]:
    sel = slice(None) if mask is None else mask
    return {"first_response": timing.sla_share(m.sla_first[sel]),
            "resolution": timing.sla_share(m.sla_resolution[sel])}


async def daily_reports(session: AsyncSession, period: Period, scope: Scope,
                        principal: Principal, rules: AccessSettings
                        ) -> list[tuple[date, str, str, int]]:
    """(local day, channel, kind, reports) of the reports received in the period."""
    offset = period.start.astimezone(period.cal.tz).utcoffset() or timedelta(0)
    day = day_number(epoch(Report.received_at), offset.total_seconds())
    stmt = (
        select(day, Report.channel, Report.kind, func.count())
        .join(Ticket, Ticket.id == Report.ticket_id)
        .where(Report.received_at >= period.start, Report.received_at < period.end,
               *ticket_conditions(principal, rules, scope, live=False, channel=False))
        .group_by(day, Report.channel, Report.kind)
    )
    if scope.channel:
        stmt = stmt.where(Report.channel == scope.channel)
    epoch_day = date(1970, 1, 1)
    return [(epoch_day + timedelta(days=int(d)), ch, kind, int(n))
            for d, ch, kind, n in (await session.execute(stmt)).all()]


def volume(c: Cohort, reports: list[tuple[date, str, str, int]], period: Period
           ) -> dict[str, Any]:
    table = timing.DayTable.build(period.cal, period.first, period.last)
    days = table.dates()
    tickets_by = Counter(zip(table.index(c.created).tolist(), c.channel, strict=True))
    kinds_by = Counter(zip(table.index(c.created).tolist(), c.kind, strict=True))
    series: list[dict[str, Any]] = [
        {"date": d.isoformat(), "reports": {}, "tickets": {}, "tickets_by_kind": {}}
        for d in days]
    for (i, ch), n in sorted(tickets_by.items()):
        series[i]["tickets"][ch] = n
    for (i, kind), n in sorted(kinds_by.items()):
        series[i]["tickets_by_kind"][kind] = n
    first = period.first
    reports_by_channel: Counter[str] = Counter()
    reports_by_kind: Counter[str] = Counter()
    for day, ch, kind, n in reports:
        i = (day - first).days
        if 0 <= i < len(series):
            row = series[i]["reports"]
            row[ch] = row.get(ch, 0) + n
        reports_by_channel[ch] += n
        reports_by_kind[kind] += n
    return {
        "reports": sum(reports_by_channel.values()), "tickets": len(c),
        "reports_by_channel": ranked(reports_by_channel),
        "reports_by_kind": ranked(reports_by_kind),
        "tickets_by_channel": ranked(Counter(c.channel)),
        "tickets_by_kind": ranked(Counter(c.kind)),
        "days": series,
    }


def units(c: Cohort, m: Measured) -> list[dict[str, Any]]:
    """Per unit: tickets received, still open, resolved, times and SLA shares."""
    names = np.array(c.unit, dtype=object)
    open_ = np.array([s in OPEN for s in c.state], dtype=bool)
    out = []
    for name in sorted(set(c.unit), key=lambda u: (u == NONE_UNIT, u)):
        mask = names == name
        out.append({
            "unit": name or None, "tickets": int(mask.sum()),
            "open": int((mask & open_).sum()),
            "resolved": int((mask & ~np.isnan(c.resolved)).sum()),
            **times(m, mask), "sla": slas(m, mask),
        })
    return out


async def backlog(session: AsyncSession, scope: Scope, principal: Principal,
                  rules: AccessSettings, now: datetime) -> dict[str, Any]:
    """Tickets open now, by age (days since received) and by state."""
    rows = (await session.execute(
        select(epoch(Ticket.created_at), Ticket.state)
        .where(Ticket.state.in_(OPEN), *ticket_conditions(principal, rules, scope))
    )).all()
    ages = (now.timestamp() - np.array([r[0] for r in rows], dtype=np.float64)) / 86400.0
    upper = np.array([b[0] for b in AGE_BUCKETS[:-1]])
    counts = np.bincount(np.searchsorted(upper, ages, side="right"),
                         minlength=len(AGE_BUCKETS))
    return {
        "open": len(rows),
        "by_state": ranked(Counter(r[1] for r in rows)),
        "by_age": [{"bucket": id_, "bucket_en": en, "max_days": None if hi == float("inf")
                    else hi, "count": int(n)}
                   for (hi, id_, en), n in zip(AGE_BUCKETS, counts, strict=True)],
        "oldest_days": round(float(ages.max()), 1) if len(rows) else None,
    }
