"""Bearer-token authentication and role checks for the staff API."""

from __future__ import annotations

from aiohttp import web

from aggregator.domain import Role
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from storage.accounts import Principal, check_token, looks_like_token, touch_token

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(request: web.Request) -> str:
    """The token of `Authorization: Bearer TOKEN`, or 401. Anything that cannot be one
    of our tokens (undecodable bytes, spaces, control characters) is refused here."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip(" \t")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "send Authorization: Bearer TOKEN", headers=_CHALLENGE)
    if not looks_like_token(token):
        raise ApiError(401, "unknown, expired or revoked token", headers=_CHALLENGE)
    return token


async def authenticate(request: web.Request) -> Principal:
    token = bearer_token(request)
    service = request.app[SERVICE]
    ttl = service.settings.web.token_ttl_days
    async with service.read_sessions() as session:
        checked = await check_token(session, token, ttl_days=ttl)
    if checked is None:
        raise ApiError(401, "unknown, expired or revoked token", headers=_CHALLENGE)
    if checked.touch and checked.principal.token_id is not None:
        async with service.sessions() as session, session.begin():
            await touch_token(session, checked.principal.token_id)
    return checked.principal


async def require(request: web.Request, role: Role = Role.AGENT) -> Principal:
    """The caller, if they hold at least `role`; 401/403 otherwise."""
    principal = await authenticate(request)
    if Role[principal.role.upper()] < role:
        raise ApiError(403, f"needs the {role.name.lower()} role")
    return principal


def actor(principal: Principal) -> str:
    return f"user:{principal.name}"
