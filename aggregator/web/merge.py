"""Staff API to undo the matcher: merge two tickets, split a report out (supervisors).

POST /api/tickets/{number}/merge   {"into": "ADU-2026-000123"}  -> 200
POST /api/reports/{id}/split                                      -> 201
Both write audit events on every ticket involved and tell the reporters concerned
their ticket number (see aggregator/dedup/merge.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.dedup.merge import merge_tickets, split_report
from aggregator.domain import Role
from aggregator.tickets import query
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError, read_json
from aggregator.web.keys import SERVICE

routes = web.RouteTableDef()


@routes.post("/api/tickets/{number}/merge")
async def merge(request: web.Request) -> web.Response:
    principal = await require(request, Role.SUPERVISOR)
    data = await read_json(request)
    into = data.get("into") if isinstance(data, dict) else None
    if not isinstance(into, str) or not into.strip():
        raise ApiError(422, 'send {"into": "<ticket number>"}')
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        result = await merge_tickets(session, request.match_info["number"], into,
                                     actor(principal))
        target = await _summary(session, result.target)
    service.outbox_wake()
    return web.json_response({"merged": result.source, "into": result.target,
                              "reports_moved": result.moved_reports, "ticket": target})


@routes.post("/api/reports/{report_id}/split")
async def split(request: web.Request) -> web.Response:
    principal = await require(request, Role.SUPERVISOR)
    try:
        report_id = int(request.match_info["report_id"])
    except ValueError:
        raise ApiError(404, "no such report") from None
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        result = await split_report(session, report_id, actor(principal))
        ticket = await _summary(session, result.ticket)
    service.outbox_wake()
    return web.json_response({"report_id": result.report_id, "from": result.source,
                              "ticket": ticket}, status=201)


async def _summary(session: AsyncSession, number: str) -> dict[str, Any]:
    ticket = await query.by_number(session, number)
    assert ticket is not None  # the action just wrote it
    return await query.ticket_summary(session, ticket)
