"""Keeping the figure cells current.

A refresh looks for tickets that changed since the last one (their `updated_at`, new
reports, survey answers, and the audit events the figures count), collects every local
day each of them touches (received, resolved, its reports, answers and events), and
rebuilds those days' cells from the tables. The first refresh, or one after the SLA
calendar (or the cell format) changed, rebuilds everything, a month per transaction.
Figures requests refresh first, so they are current; a single-instance job refreshes
in the background so requests seldom find work. On PostgreSQL an advisory lock keeps
replicas from rebuilding the same days at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.events import EventType
from aggregator.monitoring import cells, timing
from aggregator.monitoring.sql import epoch
from storage import repo
from storage.models import (
    MonitoringCell,
    MonitoringPlace,
    MonitoringRollup,
    Report,
    SurveyAnswer,
    Ticket,
    TicketEvent,
)
from storage.types import utcnow

log = logging.getLogger("aggregator.monitoring")

FORMAT = 2  # of the cells; a new one rebuilds them all
NAME = "cells"
# Changes are looked for from a little before the last look: a transaction that began
# earlier (its timestamps) but committed after is still seen.
OVERLAP = timedelta(minutes=2)
COUNTED_EVENTS = [str(t) for t in (EventType.STATE_CHANGED, EventType.ESCALATED,
                                   EventType.VIRALITY_CHANGED)]
SPAN = 31  # days rebuilt per transaction (SQLite's writer lock is held that long)
FULL_AFTER = 20_000  # more changed tickets than this: rebuild everything
_PG_LOCK_KEY = 0x41445532


def fingerprint(settings: Settings) -> str:
    cal = settings.tickets.sla.calendar
    raw = f"{FORMAT}|{cal.model_dump_json()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def runs(days: Iterable[int], longest: int = SPAN) -> list[tuple[int, int]]:
    """Consecutive days as (first, last) spans of at most `longest` days."""
    out: list[tuple[int, int]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + 1 and d - out[-1][0] < longest:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


class Rollup:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 read_sessions: async_sessionmaker[AsyncSession] | None = None):
        self.settings = settings
        self.cal = settings.tickets.sla.calendar.calendar()
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.fingerprint = fingerprint(settings)
        self._lock = asyncio.Lock()

    async def refresh(self) -> int:
        """Bring the cells up to date; returns how many days were rebuilt."""
        async with self._lock:
            started = utcnow()
            days = timing.Days(self.cal, started)
            async with self.read_sessions() as s:
                state = await s.get(MonitoringRollup, NAME)
                todo: Iterable[int]
                if state is None or state.fingerprint != self.fingerprint:
                    todo, full = await _all_days(s, days, started), True
                else:
                    changed = await _changed(s, state.checked_at - OVERLAP)
                    full = len(changed) > FULL_AFTER
                    todo = (await _all_days(s, days, started) if full
                            else await _days_of(s, days, changed))
                todo = sorted(todo)
            if not todo and state is not None and not full:
                return 0
            t0 = time.monotonic()
            spans = runs(todo)
            for i, (first, last) in enumerate(spans):
                async with self.sessions() as s, s.begin():
                    await _exclusive(s)
                    built = await cells.build(s, self.cal, days, first, last)
                    await cells.store(s, first, last, built)
                    if i == len(spans) - 1:
                        if full:  # days no ticket touches any more
                            await _clear(s, outside=(spans[0][0], last))
                        await _save(s, self.fingerprint, started)
            if not spans:
                async with self.sessions() as s, s.begin():
                    await _exclusive(s)
                    await _clear(s)
                    await _save(s, self.fingerprint, started)
            if todo and (full or len(todo) > SPAN):
                async with self.sessions() as s, s.begin():  # fresh statistics for the planner
                    for table in ("monitoring_cells", "monitoring_places"):
                        await s.execute(text(f"ANALYZE {table}"))
                log.info("figure cells rebuilt: %d days in %.1f s", len(todo),
                         time.monotonic() - t0)
            return len(todo)


async def _exclusive(session: AsyncSession) -> None:
    if repo.dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


async def _clear(session: AsyncSession, outside: tuple[int, int] | None = None) -> None:
    for table in (MonitoringCell, MonitoringPlace):
        stmt = delete(table)
        if outside is not None:
            stmt = stmt.where((table.day < outside[0]) | (table.day > outside[1]))
        await session.execute(stmt)


async def _save(session: AsyncSession, fp: str, at: datetime) -> None:
    row = await session.get(MonitoringRollup, NAME)
    if row is None:
        session.add(MonitoringRollup(name=NAME, fingerprint=fp, checked_at=at))
    else:
        row.fingerprint, row.checked_at = fp, at


async def _all_days(session: AsyncSession, days: timing.Days, now: datetime) -> list[int]:
    first = (await session.execute(select(func.min(epoch(Ticket.created_at))))).scalar()
    if first is None:
        return []
    return list(range(days.of_one(float(first)), days.of_one(now.timestamp()) + 1))


async def _changed(session: AsyncSession, since: datetime) -> set[int]:
    """Tickets whose figures may have moved since `since`."""
    found: set[int] = set()
    for stmt in (
        select(Ticket.id).where(Ticket.updated_at >= since),
        select(Report.ticket_id).where(Report.received_at >= since),
        select(SurveyAnswer.ticket_id).where(SurveyAnswer.at >= since),
        select(TicketEvent.ticket_id).where(TicketEvent.type.in_(COUNTED_EVENTS),
                                            TicketEvent.at >= since),
    ):
        # No DISTINCT: SQLite would then walk a ticket_id index instead of the time range.
        found.update((await session.execute(stmt)).scalars())
    return found


async def _days_of(session: AsyncSession, days: timing.Days, ids: set[int]) -> set[int]:
    """Every local day these tickets count on."""
    out: set[int] = set()
    for chunk in repo.chunks(sorted(ids)):
        for stmt in (
            select(epoch(Ticket.created_at)).where(Ticket.id.in_(chunk)),
            select(epoch(Ticket.resolved_at)).where(Ticket.id.in_(chunk),
                                                    Ticket.resolved_at.is_not(None)),
            select(epoch(Report.received_at)).where(Report.ticket_id.in_(chunk)),
            select(epoch(SurveyAnswer.at)).where(SurveyAnswer.ticket_id.in_(chunk)),
            select(epoch(TicketEvent.at)).where(TicketEvent.ticket_id.in_(chunk),
                                                TicketEvent.type.in_(COUNTED_EVENTS)),
        ):
            out.update(days.of_one(float(at)) for at in (await session.execute(stmt)).scalars())
    return out
