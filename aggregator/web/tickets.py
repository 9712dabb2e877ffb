"""Staff ticket API: the unified queue, one ticket with its history, and the actions."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OPEN_STATES, Role, TicketState
from aggregator.tickets.actions import add_reply, apply_patch, iso, ticket_summary
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError, read_json
from aggregator.web.keys import SERVICE
from storage.accounts import Principal
from storage.models import Report as ReportRow
from storage.models import Reporter, Ticket, TicketEvent
from storage.types import UTCDateTime

routes = web.RouteTableDef()

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
MAX_LIMIT = 200


def _sort_key() -> tuple[Any, ...]:
    """Most urgent first: escalated, then higher priority, then nearest SLA due."""
    return (
        -Ticket.escalation_level,
        -Ticket.priority,
        func.coalesce(Ticket.sla_due_at, literal(FAR_FUTURE, UTCDateTime)),
        Ticket.id,
    )


def _encode_cursor(t: Ticket) -> str:
    raw = [-t.escalation_level, -t.priority, iso(t.sla_due_at or FAR_FUTURE), t.id]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _decode_cursor(value: str) -> tuple[Any, ...]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        esc, prio, due, tid = raw
        return (int(esc), int(prio), datetime.fromisoformat(due), int(tid))
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ApiError(400, "cursor is not one this API gave out") from None


def _states(value: str) -> list[str]:
    states: list[str] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        if part == "open":
            states += [s.value for s in OPEN_STATES]
        elif part in TicketState._value2member_map_:
            states.append(part)
        else:
            raise ApiError(400, f"unknown state {part!r}")
    return states


@routes.get("/api/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    await require(request)
    q = request.query
    try:
        limit = min(MAX_LIMIT, max(1, int(q.get("limit", "50"))))
    except ValueError:
        raise ApiError(400, "limit must be a number") from None
    stmt = select(Ticket).where(Ticket.merged_into_id.is_(None))
    if q.get("state"):
        stmt = stmt.where(Ticket.state.in_(_states(q["state"])))
    for field in ("kind", "unit", "assignee"):
        if q.get(field):
            stmt = stmt.where(getattr(Ticket, field) == q[field])
    if q.get("channel"):
        stmt = stmt.where(
            select(ReportRow.id)
            .where(ReportRow.ticket_id == Ticket.id, ReportRow.channel == q["channel"])
            .exists()
        )
    if q.get("q"):
        like = f"%{q['q'].strip()[:200]}%"
        stmt = stmt.where(or_(
            Ticket.title.ilike(like),
            Ticket.number == q["q"].strip().upper(),
            select(ReportRow.id)
            .where(ReportRow.ticket_id == Ticket.id, ReportRow.text.ilike(like))
            .exists(),
        ))
    key = _sort_key()
    if q.get("cursor"):
        esc, prio, due, tid = _decode_cursor(q["cursor"])
        stmt = stmt.where(tuple_(*key) > tuple_(
            literal(esc), literal(prio), literal(due, UTCDateTime), literal(tid)))
    stmt = stmt.order_by(*key).limit(limit + 1)
    service = request.app[SERVICE]
    async with service.read_sessions() as session:
        tickets = list((await session.execute(stmt)).scalars())
        more = len(tickets) > limit
        tickets = tickets[:limit]
        channels = await _channels(session, [t.id for t in tickets])
    return web.json_response({
        "tickets": [ticket_summary(t, channels.get(t.id, [])) for t in tickets],
        "next_cursor": _encode_cursor(tickets[-1]) if more else None,
    })


async def _channels(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
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


async def _ticket(session: AsyncSession, number: str, *, lock: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.number == number.upper())
    if lock:
        stmt = stmt.with_for_update()
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None:
        raise ApiError(404, f"no ticket {number}")
    return ticket


def report_json(report: ReportRow, reporter: Reporter | None, principal: Principal) -> dict:
    hidden = report.anonymous and Role[principal.role.upper()] < Role.SUPERVISOR
    author: dict[str, Any]
    if hidden:
        author = {"anonymous": True}
    else:
        author = {
            "anonymous": report.anonymous,
            "handle": reporter.handle if reporter else None,
            "name": reporter.name if reporter else None,
            "email": reporter.email if reporter else None,
            "phone": reporter.phone if reporter else None,
        }
    meta = dict(report.meta or {})
    if hidden:
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


@routes.get("/api/tickets/{number}")
async def get_ticket(request: web.Request) -> web.Response:
    principal = await require(request)
    service = request.app[SERVICE]
    async with service.read_sessions() as session:
        ticket = await _ticket(session, request.match_info["number"])
        rows = (await session.execute(
            select(ReportRow, Reporter)
            .outerjoin(Reporter, Reporter.id == ReportRow.reporter_id)
            .where(ReportRow.ticket_id == ticket.id)
            .order_by(ReportRow.id)
        )).all()
        events = (await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
        )).scalars().all()
        merged_into = None
        if ticket.merged_into_id is not None:
            target = await session.get(Ticket, ticket.merged_into_id)
            merged_into = target.number if target else None
        extra = await service.ticket_extras(session, ticket)
    body = ticket_summary(ticket, [r.channel for r, _ in rows])
    body["merged_into"] = merged_into
    body["reports"] = [report_json(r, rep, principal) for r, rep in rows]
    body["events"] = [
        {"at": iso(e.at), "actor": e.actor, "type": e.type, "data": e.data} for e in events
    ]
    body.update(extra)
    return web.json_response(body)


@routes.patch("/api/tickets/{number}")
async def patch_ticket(request: web.Request) -> web.Response:
    principal = await require(request)
    patch = await read_json(request)
    if not isinstance(patch, dict):
        raise ApiError(422, "send a JSON object")
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        ticket = await _ticket(session, request.match_info["number"], lock=True)
        await apply_patch(session, service.settings, ticket, patch, actor(principal))
        channels = await _channels(session, [ticket.id])
        body = ticket_summary(ticket, channels.get(ticket.id, []))
    service.outbox_wake()
    return web.json_response(body)


@routes.post("/api/tickets/{number}/replies")
async def post_reply(request: web.Request) -> web.Response:
    principal = await require(request)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, "send a JSON object with text")
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        ticket = await _ticket(session, request.match_info["number"], lock=True)
        queued = await add_reply(session, ticket, data.get("text"), actor(principal),
                                 principal.name)
    service.outbox_wake()
    return web.json_response({"ticket": ticket.number, "queued": queued}, status=202)

