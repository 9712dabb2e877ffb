"""Staff ticket API: the unified queue, one ticket with its history, and the actions.
Reads go through `aggregator.tickets.query`; writes through `aggregator.tickets.actions`."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from aggregator.sections import AccessSettings
from aggregator.tickets import access, query
from aggregator.tickets.actions import add_note, add_reply, apply_patch
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE, WebContext
from aggregator.web.schemas import (
    NoteRequest,
    QueueParams,
    ReplyRequest,
    TicketPatch,
    parse_body,
    parse_query,
)
from storage.accounts import Principal
from storage.models import Ticket

routes = web.RouteTableDef()


def queue_filter(request: web.Request) -> query.QueueFilter:
    p = parse_query(request, QueueParams)
    try:
        states = query.parse_states(p.state) if p.state else []
        since = query.parse_time(p.updated_since) if p.updated_since else None
    except query.QueryError as exc:
        raise ApiError(400, str(exc)) from None
    return query.QueueFilter(
        states=states, kind=p.kind, unit=p.unit, assignee=p.assignee, channel=p.channel,
        priority=p.priority, escalated=p.escalated, confidential=p.confidential,
        text=p.q, updated_since=since, sort=p.sort, limit=p.limit, cursor=p.cursor,
    )


@routes.get("/api/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    principal = await require(request)
    f = queue_filter(request)
    ctx = request.app[SERVICE]
    async with ctx.read_sessions() as session:
        try:
            page = await query.queue(session, f, principal, ctx.settings.access)
        except query.QueryError as exc:
            raise ApiError(400, str(exc)) from None
    return web.json_response({"tickets": page.tickets, "next_cursor": page.next_cursor})


@routes.get("/api/tickets/{number}")
async def get_ticket(request: web.Request) -> web.Response:
    principal = await require(request)
    ctx = request.app[SERVICE]
    async with ctx.read_sessions() as session:
        body = await query.ticket_detail(session, request.match_info["number"], principal,
                                         ctx.settings.access, ctx.sections)
    if body is None:
        raise ApiError(404, f"no ticket {request.match_info['number']}")
    await audit_identity_read(ctx, body, principal)
    return web.json_response(body)


async def audit_identity_read(ctx: WebContext, body: dict[str, Any], principal: Principal
                               ) -> None:
    """Reading who reported on a confidential ticket is itself on the record."""
    if not body["confidential"]:
        return
    shown = [r["id"] for r in body["reports"] if r["author"].get("handle") is not None]
    if not shown:
        return
    async with ctx.sessions() as session, session.begin():
        ticket = await query.by_number(session, body["number"])
        if ticket is not None:
            await record_events(session, [Event(
                ticket.id, EventType.IDENTITY_VIEWED, actor(principal), {"report_ids": shown})])


async def locked_ticket(session: AsyncSession, number: str, principal: Principal,
                        rules: AccessSettings) -> Ticket:
    """The ticket to change, locked; 404 when it does not exist or is not theirs to see."""
    ticket = await query.by_number(session, number, lock=True)
    if ticket is None or not access.can_see(ticket, principal, rules):
        raise ApiError(404, f"no ticket {number}")
    return ticket


@routes.patch("/api/tickets/{number}")
async def patch_ticket(request: web.Request) -> web.Response:
    principal = await require(request)
    patch = (await parse_body(request, TicketPatch, "any of state, priority, assignee, unit")
             ).model_dump(exclude_unset=True)
    ctx = request.app[SERVICE]
    if "unit" in patch and not access.may_move_to(patch["unit"], principal):
        raise ApiError(403, "agents hand tickets only to their own units")
    async with ctx.sessions() as session, session.begin():
        ticket = await locked_ticket(session, request.match_info["number"], principal,
                                     ctx.settings.access)
        await apply_patch(session, ctx.settings, ticket, patch, actor(principal))
        body = await query.ticket_summary(session, ticket)
    ctx.outbox_wake()
    return web.json_response(body)


@routes.post("/api/tickets/{number}/replies")
async def post_reply(request: web.Request) -> web.Response:
    principal = await require(request)
    data = await parse_body(request, ReplyRequest, "text")
    key = idempotency_key(request)
    ctx = request.app[SERVICE]
    async with ctx.sessions() as session, session.begin():
        ticket = await locked_ticket(session, request.match_info["number"], principal,
                                     ctx.settings.access)
        queued = await add_reply(session, ticket, data.text, actor(principal),
                                 principal.name, report_id=data.report_id,
                                 everyone=data.everyone, idempotency_key=key)
    ctx.outbox_wake()
    return web.json_response({"ticket": ticket.number, "queued": queued}, status=202)


def idempotency_key(request: web.Request) -> str | None:
    """The client's `Idempotency-Key` (printable ASCII, at most 200 characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (0 < len(key) <= 200 and key.isascii() and key.isprintable()):
        raise ApiError(400, "Idempotency-Key must be 1-200 printable ASCII characters")
    return key


@routes.post("/api/tickets/{number}/notes")
async def post_note(request: web.Request) -> web.Response:
    """An internal note: on the ticket's record for staff, never sent to anyone."""
    principal = await require(request)
    data = await parse_body(request, NoteRequest, "text")
    ctx = request.app[SERVICE]
    async with ctx.sessions() as session, session.begin():
        ticket = await locked_ticket(session, request.match_info["number"], principal,
                                     ctx.settings.access)
        event = await add_note(session, ticket, data.text, actor(principal))
    return web.json_response({"ticket": ticket.number, "event": {
        "at": query.iso(event.at), "actor": event.actor, "type": str(event.type),
        "data": dict(event.data)}}, status=201)
