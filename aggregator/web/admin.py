"""Health for load balancers and operators; user administration for admins."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from aggregator.domain import Role
from aggregator.tickets.query import iso
from aggregator.web.auth import require
from aggregator.web.errors import ApiError, read_json
from aggregator.web.keys import SERVICE
from storage.accounts import AccountError, add_user
from storage.models import User

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", **request.app[SERVICE].health()})


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    async with request.app[SERVICE].read_sessions() as session:
        users = (await session.execute(select(User).order_by(User.name))).scalars().all()
    return web.json_response({"users": [
        {"name": u.name, "role": u.role, "disabled": u.disabled, "created_at": iso(u.created_at)}
        for u in users
    ]})


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, "send a JSON object with name and role")
    try:
        async with request.app[SERVICE].sessions() as session, session.begin():
            user = await add_user(session, str(data.get("name", "")), str(data.get("role", "")),
                                  data.get("password"))
    except AccountError as exc:
        status = 409 if "already exists" in str(exc) else 422
        raise ApiError(status, str(exc)) from None
    return web.json_response({"name": user.name, "role": user.role}, status=201)
