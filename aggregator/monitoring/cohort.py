"""Tickets received in a span of time (a cohort), one array entry per ticket, with how
long each took to a first answer and to its resolution (in working time where the SLA
calendar has working hours) and what became of each deadline. Times and deadlines are
the tickets' own columns (set by staff actions, moved on by the SLA pause while waiting).

Read for the tickets CSV, and day by day to build the figure cells (cells.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import TicketState
from aggregator.monitoring import timing
from aggregator.monitoring.scope import origin_channel
from aggregator.monitoring.sql import epoch
from aggregator.sla.calendar import Calendar
from storage.models import Ticket

COLUMNS = 11


@dataclass
class Cohort:
    ids: np.ndarray
    created: np.ndarray  # epoch seconds; NaN: never
    first_response: np.ndarray
    first_response_due: np.ndarray
    resolved: np.ndarray
    resolution_due: np.ndarray
    report_count: np.ndarray
    state: list[str]
    kind: list[str]
    unit: list[str | None]
    channel: list[str]  # where the ticket came in: its first report's channel

    def __len__(self) -> int:
        return len(self.ids)


async def load(session: AsyncSession, start: datetime, end: datetime, conditions: Sequence[Any],
               extra: Sequence[Any] = ()) -> tuple[Cohort, list[tuple[Any, ...]]]:
    """Tickets received in [start, end) meeting `conditions`; with `extra` columns,
    also those per ticket (in the same order: by time received)."""
    stmt = select(
        Ticket.id, epoch(Ticket.created_at), epoch(Ticket.first_response_at),
        epoch(Ticket.first_response_due_at), epoch(Ticket.resolved_at),
        epoch(Ticket.sla_due_at), Ticket.report_count, Ticket.state, Ticket.kind,
        Ticket.unit, origin_channel(), *extra,
    ).where(Ticket.created_at >= start, Ticket.created_at < end, *conditions)
    db = await session.connection()  # Core rows: no ORM work per ticket
    rows = (await db.execute(stmt.order_by(Ticket.created_at, Ticket.id))).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * (COLUMNS + len(extra))

    def floats(i: int) -> np.ndarray:
        return np.array(cols[i], dtype=np.float64)

    cohort = Cohort(
        ids=np.array(cols[0], dtype=np.int64), created=floats(1), first_response=floats(2),
        first_response_due=floats(3), resolved=floats(4), resolution_due=floats(5),
        report_count=np.array(cols[6], dtype=np.int64), state=list(cols[7]),
        kind=list(cols[8]), unit=list(cols[9]), channel=[c or "" for c in cols[10]])
    return cohort, [tuple(r[COLUMNS:]) for r in rows] if extra else []


@dataclass
class Measured:
    """Per ticket of a cohort: working seconds to the first response and to the
    resolution, and each deadline's outcome (timing.MET, BREACHED, PENDING, NO_TARGET)."""

    first_response: np.ndarray
    resolution: np.ndarray
    sla_first: np.ndarray
    sla_resolution: np.ndarray


def measure(c: Cohort, cal: Calendar, now: float) -> Measured:
    clock = timing.WorkingClock(cal, c.created, c.first_response, c.resolved)
    closed = np.array([s == TicketState.CLOSED.value for s in c.state], dtype=bool)
    first = timing.sla_outcomes(c.first_response, c.first_response_due, now)
    res = timing.sla_outcomes(c.resolved, c.resolution_due, now)
    # Closed without an answer or a resolution (spam, a duplicate): no deadline applies.
    first[closed & np.isnan(c.first_response)] = timing.NO_TARGET
    res[closed & np.isnan(c.resolved)] = timing.NO_TARGET
    return Measured(clock.between(c.created, c.first_response),
                    clock.between(c.created, c.resolved), first, res)
