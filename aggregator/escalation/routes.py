"""POST /api/tickets/{number}/escalation/ack: staff take ownership of an escalation;
the repeats stop until the ticket reaches a higher level."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.escalation.runner import as_dict
from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from aggregator.tickets import access, query
from aggregator.tickets.actions import ActionError
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from storage.models import Escalation, Ticket
from storage.types import utcnow

routes = web.RouteTableDef()


async def acknowledge_escalation(session: AsyncSession, ticket: Ticket, who: str,
                                 actor_name: str) -> dict[str, Any]:
    """Record that `who` took ownership of the ticket's current escalation level (the
    API and the web UI both call this); ActionError 409 when it is not escalated."""
    row = await session.get(Escalation, ticket.id)
    if row is None or row.level == 0:
        raise ActionError(409, "conflict", f"{ticket.number} is not escalated")
    if row.acknowledged_level < row.level:
        row.acknowledged_level = row.level
        row.acknowledged_by = who
        row.acknowledged_at = utcnow()
        await record_events(session, [Event(
            ticket.id, EventType.ESCALATION_ACKNOWLEDGED, actor_name, {"level": row.level})])
    return as_dict(row)


@routes.post("/api/tickets/{number}/escalation/ack")
async def acknowledge(request: web.Request) -> web.Response:
    principal = await require(request)
    number = request.match_info["number"]
    async with request.app[SERVICE].sessions() as session, session.begin():
        ticket = await query.by_number(session, number, lock=True)
        if ticket is None or not access.can_see(ticket, principal,
                                                request.app[SERVICE].settings.access):
            raise ApiError(404, f"no ticket {number}")
        body = await acknowledge_escalation(session, ticket, principal.name, actor(principal))
    return web.json_response(body)
