"""POST /api/tickets/{number}/escalation/ack: staff take ownership of an escalation;
the repeats stop until the ticket reaches a higher level."""

from __future__ import annotations

from aiohttp import web

from aggregator.escalation.runner import as_dict
from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from aggregator.tickets import access, query
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from storage.models import Escalation
from storage.types import utcnow

routes = web.RouteTableDef()


@routes.post("/api/tickets/{number}/escalation/ack")
async def acknowledge(request: web.Request) -> web.Response:
    principal = await require(request)
    number = request.match_info["number"]
    async with request.app[SERVICE].sessions() as session, session.begin():
        ticket = await query.by_number(session, number, lock=True)
        if ticket is None or not access.can_see(ticket, principal,
                                                request.app[SERVICE].settings.access):
            raise ApiError(404, f"no ticket {number}")
        row = await session.get(Escalation, ticket.id)
        if row is None or row.level == 0:
            raise ApiError(409, f"{ticket.number} is not escalated")
        if row.acknowledged_level < row.level:
            row.acknowledged_level = row.level
            row.acknowledged_by = principal.name
            row.acknowledged_at = utcnow()
            await record_events(session, [Event(
                ticket.id, EventType.ESCALATION_ACKNOWLEDGED, actor(principal),
                {"level": row.level})])
        body = as_dict(row)
    return web.json_response(body)
