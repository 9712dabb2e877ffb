"""Signed-in browsers: a server-side session table, the cookie, and CSRF tokens.

Why a table and not signed cookies: a session must end when staff sign out, when an
admin disables the account or resets its password, and after a time without use; a
signed cookie stays valid until it expires unless a revocation list is kept, which is a
table anyway. A table also needs no signing key (one more secret to generate, store and
rotate). The cookie holds 32 random bytes; only their SHA-256 is stored, like API
tokens, so a copy of the database does not let anyone sign in.

CSRF: each session has its own random token, put in every form and sent back by
scripts in `X-CSRF-Token`; before sign-in (the login form, the language switch) a
random double-submit cookie plays that part.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.accounts import Principal
from storage.models import User, WebSession
from storage.types import utcnow

COOKIE = "aduan_session"
SECURE_COOKIE = "__Host-aduan_session"  # the browser enforces Secure, Path=/, no Domain
PRE_COOKIE = "aduan_csrf"
LANG_COOKIE = "aduan_lang"
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class UiSession:
    id: int
    principal: Principal
    csrf: str
    expires_at: datetime  # the earlier of the idle and the absolute limit


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_secure(request: web.Request) -> bool:
    """Served over TLS, or behind a proxy that says the browser used https. Trusting
    the header costs nothing: it can only make the cookie stricter."""
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    forwarded = request.headers.get("Forwarded", "").lower()
    return request.secure or proto == "https" or "proto=https" in forwarded


def client_address(request: web.Request) -> str:
    return (request.remote or "unknown")[:100]


def cookie_token(request: web.Request) -> str | None:
    token = request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE)
    if token and 20 <= len(token) <= 100 and token.isascii():
        return token
    return None


def set_cookie(response: web.StreamResponse, name: str, value: str, secure: bool,
               *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, path="/", httponly=True, samesite="Lax",
                        secure=secure, max_age=max_age)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str
                       ) -> None:
    """A browser-session cookie (gone when the browser closes); the server enforces
    the idle and absolute limits."""
    secure = is_secure(request)
    set_cookie(response, SECURE_COOKIE if secure else COOKIE, token, secure)


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    for name in (COOKIE, SECURE_COOKIE):
        if name in request.cookies:
            response.del_cookie(name, path="/")


def pre_login_token(request: web.Request) -> tuple[str, bool]:
    """The double-submit CSRF token of a signed-out browser, and whether it is new
    (then the response must set the cookie)."""
    token = request.cookies.get(PRE_COOKIE, "")
    if len(token) == 43 and token.isascii():
        return token, False
    return secrets.token_urlsafe(32), True


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# ---------------------------------------------------------------------- the table


async def create(session: AsyncSession, user_id: int, client: str, lifetime: timedelta
                 ) -> str:
    """A new session for the user; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(token_hash=token_hash(token), user_id=user_id,
                           csrf=secrets.token_urlsafe(32), client=client[:100],
                           created_at=now, last_seen_at=now, expires_at=now + lifetime))
    await session.flush()
    return token


async def lookup(session: AsyncSession, token: str, idle: timedelta
                 ) -> tuple[UiSession, bool] | None:
    """The live session of this cookie value and whether `last_seen_at` is due for a
    write; None when unknown, expired, idle too long, or its user is disabled."""
    row = (await session.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash(token))
    )).first()
    if row is None:
        return None
    ws, user = row
    now = utcnow()
    if user.disabled or ws.expires_at <= now or ws.last_seen_at + idle <= now:
        return None
    principal = Principal(user.id, user.name, user.role, units=frozenset(user.units or ()))
    ends = min(ws.expires_at, now + idle)
    return UiSession(ws.id, principal, ws.csrf, ends), now - ws.last_seen_at >= TOUCH_EVERY


async def touch(session: AsyncSession, session_id: int) -> None:
    await session.execute(update(WebSession).where(WebSession.id == session_id)
                          .values(last_seen_at=utcnow()))


async def end(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


async def end_all(session: AsyncSession, user_id: int) -> None:
    """Sign a user out everywhere (disabled, password reset)."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def sweep(session: AsyncSession, idle: timedelta) -> int:
    """Forget sessions that can no longer be used."""
    now = utcnow()
    result = await session.execute(delete(WebSession).where(or_(
        WebSession.expires_at <= now, WebSession.last_seen_at <= now - idle)))
    return int(getattr(result, "rowcount", 0) or 0)
