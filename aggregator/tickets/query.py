"""The read side for staff: the queue, one ticket in full, and a ticket's summary.

The JSON API, the CLI and the web UI call these and nothing else, so the queue has one
order everywhere and the rules about who sees what are applied here once. Results are
plain data (dicts of JSON types), ready to serialise.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OPEN_STATES, Priority, Role, TicketState
from aggregator.events import EventType
from aggregator.sections import AccessSettings
from aggregator.tickets import access, search
from storage.accounts import Principal
from storage.models import Report as ReportRow
from storage.models import Reporter, Ticket, TicketEvent, Virality

MAX_LIMIT = 200
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")
# A ticket-detail section contributed by a feature: name -> async (session, ticket) -> data.
Section = Callable[[AsyncSession, Ticket], Awaitable[Any]]


class QueryError(ValueError):
    """The caller asked for something malformed (maps to 400)."""


@dataclass(frozen=True)
class QueueFilter:
    states: Sequence[str] = ()  # empty: every state
    kind: str | None = None
    unit: str | None = None
    units: Sequence[str] = ()  # any of these units ("my unit")
    assignee: str | None = None
    channel: str | None = None
    priority: str | None = None  # low | normal | high | urgent
    escalated: bool | None = None
    confidential: bool | None = None  # only narrows what the principal may see anyway
    # A ticket number, or words of its reports (full text, see tickets.search).
    text: str | None = None
    updated_since: datetime | None = None  # changed after this (live queue pages)
    # "urgency" (the queue's order, keyset pages) or, with `text`, "relevance": the best
    # bm25 / ts_rank of a ticket's reports, one page of at most `limit` (no cursor).
    sort: str = "urgency"
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class QueuePage:
    tickets: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def parse_states(value: str) -> list[str]:
    """`open` or a comma-separated list of states."""
    states: list[str] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        if part == "open":
            states += [s.value for s in OPEN_STATES]
        elif part in TicketState._value2member_map_:
            states.append(part)
        else:
            raise QueryError(f"unknown state {part!r}")
    return states


def parse_time(value: str) -> datetime:
    """An RFC 3339 time with its offset (`updated_since`)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError("updated_since must be an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise QueryError("updated_since needs a time zone offset")
    return parsed


def order() -> tuple[Any, ...]:
    """Most urgent first: escalated, then higher priority, then nearest SLA due.
    Matches the index `ix_tickets_queue`."""
    return (Ticket.escalation_level.desc(), Ticket.priority.desc(), Ticket.sla_due_at,
            Ticket.id)


async def queue(session: AsyncSession, f: QueueFilter, principal: Principal,
                rules: AccessSettings) -> QueuePage:
    limit = min(MAX_LIMIT, max(1, f.limit))
    found = search.parse(f.text) if f.text and f.text.strip() else None
    stmt = select(Ticket).where(Ticket.merged_into_id.is_(None),
                                access.visible(principal, rules))
    stmt = _filtered(stmt, f)
    if f.sort not in ("urgency", "relevance"):
        raise QueryError("sort must be urgency or relevance")
    if found is not None and f.sort == "relevance":
        ranked = await search.ranked_tickets(session, found)
        rank = {tid: i for i, tid in enumerate(ranked)}
        chosen = (await session.execute(stmt.where(Ticket.id.in_(ranked or [-1])))).scalars()
        tickets, more = sorted(chosen, key=lambda t: rank[t.id])[:limit], False
    else:
        if f.cursor:
            stmt = stmt.where(_after(*decode_cursor(f.cursor)))
        if found is not None:
            tickets = await search.find_page(session, stmt, found, order(), limit + 1)
        else:
            tickets = list((await session.execute(stmt.order_by(*order()).limit(limit + 1))
                            ).scalars())
        more = len(tickets) > limit
        tickets = tickets[:limit]
    ids = [t.id for t in tickets]
    channels = await channels_of(session, ids)
    levels = await virality_levels(session, ids)
    rows = [summary(t, channels.get(t.id, []), levels.get(t.id, 0)) for t in tickets]
    if found is not None and not found.empty and ids:
        matches = await search.best_matches(session, found, ids)
        for row, t in zip(rows, tickets, strict=True):
            row["match"] = matches.get(t.id)
    return QueuePage(rows, encode_cursor(tickets[-1]) if more else None)


async def changed(session: AsyncSession, f: QueueFilter, principal: Principal,
                  rules: AccessSettings) -> list[tuple[str, str]]:
    """(number, updated_at) of the queue's tickets changed after `f.updated_since`,
    latest change first: what a live queue page asks every few seconds. Reads the
    `updated_at` index, not the queue's order."""
    if f.updated_since is None:
        raise QueryError("changed() needs updated_since")
    stmt = _filtered(select(Ticket.number, Ticket.updated_at).where(
        Ticket.merged_into_id.is_(None), access.visible(principal, rules)), f)
    if f.text and f.text.strip():
        stmt = stmt.where(await search.condition(session, search.parse(f.text), narrow=True))
    rows = await session.execute(stmt.order_by(Ticket.updated_at.desc()).limit(MAX_LIMIT))
    return [(number, iso(at) or "") for number, at in rows]


def _filtered(stmt: SelectT, f: QueueFilter) -> SelectT:
    if f.states:
        stmt = stmt.where(Ticket.state.in_(list(f.states)))
    for name in ("kind", "unit", "assignee"):
        value = getattr(f, name)
        if value:
            stmt = stmt.where(getattr(Ticket, name) == value)
    if f.units:
        stmt = stmt.where(Ticket.unit.in_(sorted(f.units)))
    if f.priority:
        if f.priority.upper() not in Priority.__members__:
            raise QueryError("priority must be one of low, normal, high, urgent")
        stmt = stmt.where(Ticket.priority == Priority[f.priority.upper()])
    if f.escalated is not None:
        stmt = stmt.where(Ticket.escalation_level > 0 if f.escalated
                          else Ticket.escalation_level == 0)
    if f.confidential is not None:
        stmt = stmt.where(Ticket.confidential.is_(f.confidential))
    if f.updated_since is not None:
        stmt = stmt.where(Ticket.updated_at > f.updated_since)
    if f.channel:
        stmt = stmt.where(
            select(ReportRow.id)
            .where(ReportRow.ticket_id == Ticket.id, ReportRow.channel == f.channel)
            .exists()
        )
    return stmt


async def virality_levels(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """The burst detector's current level of these tickets (0 when never watched)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Virality.ticket_id, Virality.level).where(Virality.ticket_id.in_(ids)))
    return {tid: level for tid, level in rows}


def _after(esc: int, prio: int, due: datetime, tid: int) -> Any:
    """Keyset condition: strictly after this position in `order()`."""
    return or_(
        Ticket.escalation_level < esc,
        and_(Ticket.escalation_level == esc, or_(
            Ticket.priority < prio,
            and_(Ticket.priority == prio, or_(
                Ticket.sla_due_at > due,
                and_(Ticket.sla_due_at == due, Ticket.id > tid),
            )),
        )),
    )


def encode_cursor(t: Ticket) -> str:
    raw = [t.escalation_level, t.priority, t.sla_due_at.isoformat(), t.id]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[int, int, datetime, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        esc, prio, due, tid = raw
        parsed = (int(esc), int(prio), datetime.fromisoformat(due), int(tid))
    except (ValueError, TypeError, json.JSONDecodeError):
        raise QueryError("cursor is not one this API gave out") from None
    if parsed[2].tzinfo is None or any(abs(n) > 2**62 for n in (*parsed[:2], parsed[3])):
        raise QueryError("cursor is not one this API gave out")
    return parsed


async def channels_of(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(ReportRow.ticket_id, ReportRow.channel)
        .where(ReportRow.ticket_id.in_(ids))
        .group_by(ReportRow.ticket_id, ReportRow.channel)
    )
    out: dict[int, list[str]] = {}
    for tid, channel in rows:
        out.setdefault(tid, []).append(channel)
    return out


async def ticket_summary(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
    channels = await channels_of(session, [ticket.id])
    levels = await virality_levels(session, [ticket.id])
    body = summary(ticket, channels.get(ticket.id, []), levels.get(ticket.id, 0))
    if ticket.merged_into_id is not None:
        target = await session.get(Ticket, ticket.merged_into_id)
        body["merged_into"] = target.number if target else None
    return body


async def ticket_detail(
    session: AsyncSession, number: str, principal: Principal, rules: AccessSettings,
    sections: dict[str, Section] | None = None, *, newest: int | None = None,
) -> dict[str, Any] | None:
    """The ticket with every report (identities masked by role) and event, plus the
    sections features contribute; None when there is no such ticket or the principal
    may not see it. With `newest`, only that many of the latest reports and events
    (a page showing a ticket with hundreds of reports), and `reports_omitted` /
    `events_omitted` say how many older ones were left out."""
    ticket = await by_number(session, number)
    if ticket is None or not access.can_see(ticket, principal, rules):
        return None
    return await detail_of(session, ticket, principal, sections, newest=newest)


async def detail_of(session: AsyncSession, ticket: Ticket, principal: Principal,
                    sections: dict[str, Section] | None = None, *, newest: int | None = None
                    ) -> dict[str, Any]:
    """`ticket_detail` of a ticket the caller has loaded and checked with
    `access.can_see` already."""
    report_stmt = (select(ReportRow, Reporter)
                   .outerjoin(Reporter, Reporter.id == ReportRow.reporter_id)
                   .where(ReportRow.ticket_id == ticket.id))
    event_stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if newest is None:
        rows = list((await session.execute(report_stmt.order_by(ReportRow.id))).all())
        events = list((await session.execute(event_stmt.order_by(TicketEvent.id))).scalars())
    else:
        rows = list((await session.execute(
            report_stmt.order_by(ReportRow.id.desc()).limit(newest))).all())[::-1]
        events = list((await session.execute(
            event_stmt.order_by(TicketEvent.id.desc()).limit(newest))).scalars())[::-1]
    body = await ticket_summary(session, ticket)
    body["recurrence_of"] = await recurrence_of(session, ticket.id)
    body["reports"] = [report_json(r, rep, principal) for r, rep in rows]
    body["events"] = [
        {"at": iso(e.at), "actor": e.actor, "type": e.type, "data": e.data} for e in events
    ]
    if newest is not None:
        body["reports_omitted"] = max(0, ticket.report_count - len(rows))
        body["events_omitted"] = 0
        if len(events) == newest:
            total = (await session.execute(select(func.count()).select_from(TicketEvent)
                                           .where(TicketEvent.ticket_id == ticket.id))
                     ).scalar_one()
            body["events_omitted"] = total - len(events)
    for name, section in (sections or {}).items():
        body[name] = await section(session, ticket)
    return body


async def recurrence_of(session: AsyncSession, ticket_id: int) -> str | None:
    """The earlier ticket whose problem this one is a recurrence of (its number), from
    the `recurrence_of` event intake recorded when it opened this ticket."""
    data = (await session.execute(
        select(TicketEvent.data)
        .where(TicketEvent.ticket_id == ticket_id,
               TicketEvent.type == str(EventType.RECURRENCE_OF))
        .order_by(TicketEvent.id).limit(1)
    )).scalar_one_or_none()
    return data.get("ticket") if isinstance(data, dict) else None


async def by_number(session: AsyncSession, number: str, *, lock: bool = False
                    ) -> Ticket | None:
    stmt = select(Ticket).where(Ticket.number == number.strip().upper())
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def can_see_identity(report: ReportRow, principal: Principal) -> bool:
    return not report.anonymous or Role[principal.role.upper()] >= Role.SUPERVISOR


def report_json(report: ReportRow, reporter: Reporter | None, principal: Principal
                ) -> dict[str, Any]:
    shown = can_see_identity(report, principal)
    author: dict[str, Any] = {"anonymous": True}
    if shown:
        author = {
            "anonymous": report.anonymous,
            "handle": reporter.handle if reporter else None,
            "name": reporter.name if reporter else None,
            "email": reporter.email if reporter else None,
            "phone": reporter.phone if reporter else None,
        }
    meta = dict(report.meta or {})
    if not shown:
        meta.pop("reporter", None)
    return {
        "id": report.id,
        "channel": report.channel,
        "source": report.source,
        "external_id": report.external_id,
        "kind": report.kind,
        "title": report.title,
        "text": report.text,
        "body": report.body,
        "author": author,
        "confidential": report.confidential,
        "sent_at": iso(report.sent_at),
        "received_at": iso(report.received_at),
        "match_reason": report.match_reason,
        "meta": meta,
    }


def summary(ticket: Ticket, channels: Sequence[str], virality_level: int = 0
            ) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "state": ticket.state,
        "priority": Priority(ticket.priority).name.lower(),
        "kind": ticket.kind,
        "unit": ticket.unit,
        "assignee": ticket.assignee,
        "channels": sorted(set(channels)),
        "report_count": ticket.report_count,
        "confidential": ticket.confidential,
        "escalation_level": ticket.escalation_level,
        "virality_score": ticket.virality_score,
        "virality_level": virality_level,
        "satisfaction": ticket.satisfaction,
        "merged_into": None,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "sla_due_at": iso(ticket.sla_due_at),
        "first_response_due_at": iso(ticket.first_response_due_at),
        "first_response_at": iso(ticket.first_response_at),
        "resolved_at": iso(ticket.resolved_at),
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
