"""Bearer-token authentication and role checks for the staff API."""

from __future__ import annotations

from aiohttp import web

from aggregator.domain import Role
from aggregator.web.errors import ApiError
from aggregator.web.keys import SERVICE
from storage.accounts import Principal, principal_for_token


async def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "send Authorization: Bearer TOKEN",
                       headers={"WWW-Authenticate": "Bearer"})
    service = request.app[SERVICE]
    async with service.sessions() as session, session.begin():
        principal = await principal_for_token(session, token.strip())
    if principal is None:
        raise ApiError(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def require(request: web.Request, role: Role = Role.AGENT) -> Principal:
    """The caller, if they hold at least `role`; 401/403 otherwise."""
    principal = await authenticate(request)
    if Role[principal.role.upper()] < role:
        raise ApiError(403, f"needs the {role.name.lower()} role")
    return principal


def actor(principal: Principal) -> str:
    return f"user:{principal.name}"

