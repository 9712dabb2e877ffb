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
from aggregator.sections import AccessSettings
from aggregator.tickets import access, query
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from aggregator.web.schemas import MergeRequest, parse_body
from storage.accounts import Principal
from storage.models import Report as ReportRow
from storage.models import Ticket

routes = web.RouteTableDef()


@routes.post("/api/tickets/{number}/merge")
async def merge(request: web.Request) -> web.Response:
    principal = await require(request, Role.SUPERVISOR)
    into = (await parse_body(request, MergeRequest, '"into": "<ticket number>"')).into
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        for number in (request.match_info["number"], into):
            await _seen(session, number, principal, service.settings.access)
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
        report = await session.get(ReportRow, report_id) if report_id < 2**62 else None
        ticket_row = await session.get(Ticket, report.ticket_id) if report else None
        if ticket_row is None or not access.can_see(ticket_row, principal,
                                                    service.settings.access):
            raise ApiError(404, "no such report")
        result = await split_report(session, report_id, actor(principal))
        ticket = await _summary(session, result.ticket)
    service.outbox_wake()
    return web.json_response({"report_id": result.report_id, "from": result.source,
                              "ticket": ticket}, status=201)


async def _seen(session: AsyncSession, number: str, principal: Principal,
                rules: AccessSettings) -> None:
    ticket = await query.by_number(session, number)
    if ticket is None or not access.can_see(ticket, principal, rules):
        raise ApiError(404, f"no ticket {number}")


async def _summary(session: AsyncSession, number: str) -> dict[str, Any]:
    ticket = await query.by_number(session, number)
    assert ticket is not None  # the action just wrote it
    return await query.ticket_summary(session, ticket)
