"""Health for load balancers and operators; users and API tokens.

GET    /api/users                  admin: every user
POST   /api/users                  admin: {"name", "role", "password"?}
PATCH  /api/users/{name}           admin: any of {"role", "disabled", "password", "units"}
GET    /api/tokens[?user=NAME]     admins see every token, others their own
DELETE /api/tokens/{id}            admins revoke any token, others their own
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from aggregator.domain import Role
from aggregator.tickets.query import iso
from aggregator.web.auth import require
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from aggregator.web.schemas import UserCreate, UserPatch, parse_body
from storage import accounts
from storage.models import User
from storage.types import utcnow

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", **request.app[SERVICE].health()})


def user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "disabled": user.disabled,
            "units": list(user.units or []),
            "has_password": user.password_hash is not None,
            "created_at": iso(user.created_at)}


def token_json(token: accounts.TokenInfo, now: datetime) -> dict[str, Any]:
    return {"id": token.id, "user": token.user, "label": token.label,
            "state": token.state(now), "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at), "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at)}


def _account_error(exc: accounts.AccountError) -> ApiError:
    return ApiError(exc.status, str(exc))


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    async with request.app[SERVICE].read_sessions() as session:
        users = await accounts.list_users(session)
    return web.json_response({"users": [user_json(u) for u in users]})


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    data = await parse_body(request, UserCreate, "name and role")
    try:
        async with request.app[SERVICE].sessions() as session, session.begin():
            user = await accounts.add_user(session, data.name, data.role, data.password)
    except accounts.AccountError as exc:
        raise _account_error(exc) from None
    return web.json_response({"name": user.name, "role": user.role}, status=201)


@routes.patch("/api/users/{name}")
async def change_user(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    data = (await parse_body(request, UserPatch, "any of role, disabled, password, units")
            ).model_dump(exclude_unset=True)
    if not data:
        raise ApiError(422, "nothing to change")
    name = request.match_info["name"]
    try:
        async with request.app[SERVICE].sessions() as session, session.begin():
            user = await accounts.get_user(session, name)
            if "role" in data:
                user = await accounts.set_role(session, name, data["role"])
            if "disabled" in data:
                user = await accounts.set_disabled(session, name, data["disabled"])
            if "password" in data:
                user = await accounts.set_password(session, name, data["password"])
            if "units" in data:
                user = await accounts.set_units(session, name, data["units"])
            body = user_json(user)
    except accounts.AccountError as exc:
        raise _account_error(exc) from None
    return web.json_response(body)


@routes.get("/api/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    principal = await require(request)
    service = request.app[SERVICE]
    wanted = request.query.get("user")
    if Role[principal.role.upper()] < Role.ADMIN:
        if wanted not in (None, principal.name):
            raise ApiError(403, "only admins see other users' tokens")
        wanted = principal.name
    try:
        async with service.read_sessions() as session:
            tokens = await accounts.list_tokens(
                session, wanted, ttl_days=service.settings.web.token_ttl_days)
    except accounts.AccountError as exc:
        raise _account_error(exc) from None
    now = utcnow()
    return web.json_response({"tokens": [token_json(t, now) for t in tokens]})


@routes.delete("/api/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    principal = await require(request)
    raw = request.match_info["token_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "no such token")
    owner = None if Role[principal.role.upper()] >= Role.ADMIN else principal.user_id
    async with request.app[SERVICE].sessions() as session, session.begin():
        found = await accounts.revoke_token(session, int(raw), owner_id=owner)
    if not found:  # someone else's token looks exactly like a missing one
        raise ApiError(404, "no such token")
    return web.json_response({"revoked": int(raw)})
