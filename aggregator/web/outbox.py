"""Staff API for the outbox: list messages by state (dead letters first of all) and
retry a dead one. Supervisors and admins."""

from __future__ import annotations

from aiohttp import web

from aggregator.delivery import admin
from aggregator.domain import Role
from aggregator.web.auth import actor, require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from aggregator.web.schemas import OutboxParams, parse_query

routes = web.RouteTableDef()


@routes.get("/api/outbox")
async def list_outbox(request: web.Request) -> web.Response:
    await require(request, Role.SUPERVISOR)
    params = parse_query(request, OutboxParams)
    async with request.app[SERVICE].read_sessions() as session:
        rows = await admin.messages(session, params.state, params.limit)
    return web.json_response({"messages": rows})


@routes.post("/api/outbox/{id}/retry")
async def retry(request: web.Request) -> web.Response:
    principal = await require(request, Role.SUPERVISOR)
    ref = request.match_info["id"]
    if not ref.isascii() or not ref.isdigit() or len(ref) > 18:
        raise ApiError(404, "no such message")
    ctx = request.app[SERVICE]
    try:
        async with ctx.sessions() as session, session.begin():
            await admin.retry(session, int(ref), actor(principal))
    except admin.NotRetryable as exc:
        raise ApiError(404, str(exc)) from None
    ctx.outbox_wake()
    return web.json_response({"id": int(ref), "state": "pending"}, status=202)
