"""Reads that connectors need, through their port: a reporter's own tickets, what a
thread refers to, which posts to watch. Plain data out; never another reporter's
ticket (a ticket is "theirs" when they reported on it, or on a ticket merged into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OPEN_STATES
from storage import repo
from storage.models import Outbox, Reporter, Ticket
from storage.models import Report as ReportRow

OPEN = frozenset(state.value for state in OPEN_STATES)


@dataclass(frozen=True, slots=True)
class TicketView:
    number: str
    title: str
    state: str
    confidential: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    satisfaction: int | None = None


@dataclass(frozen=True, slots=True)
class ReporterView:
    id: int
    name: str | None
    language: str | None
    banned: bool


@dataclass(frozen=True, slots=True)
class Thread:
    """What an outgoing message threads under: the ticket's title and, of the given
    external ids, those stored as this source's reports with their titles."""

    ticket_title: str | None
    titles: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class TrackedReport:
    """A report of this source on an open ticket (merges followed): a post to watch."""

    report_id: int
    ticket_id: int
    external_id: str
    posted_at: datetime | None


def view(t: Ticket) -> TicketView:
    return TicketView(t.number, t.title, t.state, t.confidential, t.created_at, t.updated_at,
                      t.resolved_at, t.satisfaction)


async def reporter(session: AsyncSession, source: str, handle: str) -> ReporterView | None:
    row = (await session.execute(
        select(Reporter.id, Reporter.name, Reporter.language, Reporter.banned)
        .where(Reporter.source == source, Reporter.handle == handle)
    )).first()
    return ReporterView(row.id, row.name, row.language, bool(row.banned)) if row else None


async def stored_report_id(session: AsyncSession, source: str, external_id: str) -> int | None:
    return (await session.execute(
        select(ReportRow.id).where(ReportRow.source == source,
                                   ReportRow.external_id == external_id)
    )).scalar_one_or_none()


async def reporter_tickets(session: AsyncSession, source: str, handle: str, limit: int
                           ) -> list[Ticket]:
    """The reporter's tickets (merges followed), most recently active first."""
    rows = (await session.execute(
        repo.reporter_tickets_query(source, handle).limit(limit)
    )).scalars().all()
    out: dict[int, Ticket] = {}
    for t in rows:
        final = await repo.resolve_ticket(session, t)
        if final is not None:
            out.setdefault(final.id, final)
    return list(out.values())


async def reporter_ticket(session: AsyncSession, source: str, handle: str, number: str
                          ) -> Ticket | None:
    """Ticket `number` if this reporter reported on it (or on a ticket merged into it)."""
    number = number.strip().upper()
    base = repo.reporter_tickets_query(source, handle)
    direct = (await session.execute(base.where(Ticket.number == number))).scalars().first()
    if direct is not None:
        return direct
    merged = (await session.execute(
        base.where(Ticket.merged_into_id.is_not(None)).limit(200)
    )).scalars().all()
    for t in merged:
        final = await repo.resolve_ticket(session, t)
        if final is not None and final.number == number:
            return final
    return None


async def recently_active(
    session: AsyncSession, source: str, reporter_id: int, since: datetime, limit: int = 5
) -> list[TicketView]:
    """The reporter's open tickets with contact since `since`: a report from them, or a
    reply or status message to them on that ticket. Most recent first."""
    rows = (await session.execute(
        select(Ticket, func.max(ReportRow.received_at))
        .join(ReportRow, ReportRow.ticket_id == Ticket.id)
        .where(ReportRow.reporter_id == reporter_id)
        .group_by(Ticket.id)
    )).all()
    last: dict[int, datetime] = {}
    tickets: dict[int, Ticket] = {}
    for ticket, at in rows:
        final = await repo.resolve_ticket(session, ticket)
        if final is None or final.state not in OPEN:
            continue
        tickets[final.id] = final
        last[final.id] = max(_aware(at), last.get(final.id, _aware(at)))
    if not tickets:
        return []
    contacted = await session.execute(
        select(Outbox.ticket_id, func.max(Outbox.created_at))
        .where(Outbox.ticket_id.in_(list(tickets)), Outbox.reporter_id == reporter_id,
               Outbox.source == source, Outbox.kind.in_(("reply", "status")))
        .group_by(Outbox.ticket_id)
    )
    for tid, at in contacted:
        if tid is not None and at is not None and _aware(at) > last[tid]:
            last[tid] = _aware(at)
    recent = sorted((t for t in tickets if last[t] >= since), key=lambda t: last[t],
                    reverse=True)
    return [view(tickets[t]) for t in recent[:limit]]


async def thread(session: AsyncSession, source: str, ticket_number: str | None,
                 external_ids: Sequence[str]) -> Thread:
    ids = [i for i in external_ids if i][:20]
    titles: dict[str, str | None] = {}
    if ids:
        for ext, title, meta in await session.execute(
            select(ReportRow.external_id, ReportRow.title, ReportRow.meta)
            .where(ReportRow.source == source, ReportRow.external_id.in_(ids))
        ):
            titles[ext] = title or (meta or {}).get("subject")
    ticket_title = None
    if ticket_number:
        ticket_title = (await session.execute(
            select(Ticket.title).where(Ticket.number == ticket_number)
        )).scalar_one_or_none()
    return Thread(ticket_title, {i: titles[i] for i in ids if i in titles})


async def tracked_reports(session: AsyncSession, source: str, since: datetime, limit: int
                          ) -> list[TrackedReport]:
    """This source's reports posted since `since` on open tickets, newest first."""
    posted = func.coalesce(ReportRow.sent_at, ReportRow.received_at)
    rows = (await session.execute(
        select(ReportRow.id, ReportRow.ticket_id, ReportRow.external_id,
               Ticket.merged_into_id, posted)
        .join(Ticket, Ticket.id == ReportRow.ticket_id)
        .where(ReportRow.source == source, posted >= since,
               or_(Ticket.state.in_(list(OPEN)), Ticket.merged_into_id.is_not(None)))
        .order_by(ReportRow.id.desc())
        .limit(limit)
    )).all()
    out: list[TrackedReport] = []
    survivors: dict[int, Ticket | None] = {}
    for rid, tid, ext, merged, at in rows:
        if merged is not None:
            if tid not in survivors:
                survivors[tid] = await repo.resolve_ticket(session, await session.get(Ticket, tid))
            target = survivors[tid]
            if target is None or target.state not in OPEN:
                continue
            tid = target.id
        out.append(TrackedReport(rid, tid, ext, _aware(at) if at else None))
    return out


async def sent_counts(session: AsyncSession, source: str, kind: str, since: datetime
                      ) -> dict[str, int]:
    """Messages of one kind sent per recipient handle since `since`."""
    rows = await session.execute(
        select(Reporter.handle, func.count())
        .select_from(Outbox)
        .join(Reporter, Reporter.id == Outbox.reporter_id)
        .where(Outbox.source == source, Outbox.kind == kind, Outbox.state == "sent",
               Outbox.sent_at >= since)
        .group_by(Reporter.handle)
    )
    return {str(handle).lower(): int(n) for handle, n in rows}


async def public_status(session: AsyncSession, source: str, report_id: int
                        ) -> dict[str, Any] | None:
    """A report's ticket as its sender may see it: number, state and dates only. None for
    confidential reports, exactly as for unknown ones."""
    report = await session.get(ReportRow, report_id)
    if report is None or report.source != source or report.confidential:
        return None
    ticket = await repo.resolve_ticket(session, await session.get(Ticket, report.ticket_id))
    if ticket is None:
        return None
    return {
        "ticket": ticket.number,
        "state": ticket.state,
        "kind": report.kind,
        "received_at": report.received_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
    }


def _aware(value: datetime) -> datetime:
    """Aggregates (max, coalesce) lose the column type: SQLite hands back naive UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


