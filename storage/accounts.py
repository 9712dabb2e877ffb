"""Staff users and API tokens.

Tokens are random, stored only as SHA-256 hashes, and stop working when they expire
(`web.token_ttl_days` after creation), are revoked, or their user is disabled.
Passwords (for the web UI) are scrypt hashes, see `storage.passwords`; `check_password`
(alias `login`) throttles failures per user name and per client address.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import passwords
from storage.models import ApiToken, User
from storage.passwords import hash_password, verify_password  # noqa: F401 (re-exported)
from storage.throttle import SharedWindow
from storage.types import utcnow

ROLES = ("agent", "supervisor", "admin")
TOKEN_PREFIX = "adu_"
DEFAULT_TTL_DAYS = 90
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
# last_used_at is written at most this often per token (each write is a transaction).
TOUCH_EVERY = timedelta(minutes=1)
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")


class AccountError(ValueError):
    """Refused; `status` is the HTTP status the staff API answers with."""

    status = 422


class NotFound(AccountError):
    status = 404


class Conflict(AccountError):
    status = 409


class LoginThrottled(AccountError):
    status = 429

    def __init__(self, retry_after: float):
        super().__init__("too many failed logins; try again later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: str
    token_id: int | None = None
    units: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


# ------------------------------------------------------------------------ checks


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError("name must be 1-100 letters, digits, '.', '-' or '_'")
    return name


def check_role(role: object) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return str(role)


def check_new_password(password: object) -> str:
    if not isinstance(password, str):
        raise AccountError("password must be a string")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"password must have {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    if "\x00" in password:
        raise AccountError("password must not contain NUL characters")
    return password


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Printable ASCII of the Bearer token68 alphabet, as every token we make is."""
    return bool(_TOKEN.fullmatch(token))


# ------------------------------------------------------------------------- users


async def get_user(session: AsyncSession, name: object) -> User:
    user = None
    if isinstance(name, str) and _NAME.fullmatch(name):
        user = (await session.execute(select(User).where(User.name == name))
                ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.execute(select(User).order_by(User.name))).scalars())


async def add_user(session: AsyncSession, name: object, role: object,
                   password: object = None) -> User:
    name, role = check_name(name), check_role(role)
    hashed = None
    if password is not None:
        hashed = await asyncio.to_thread(passwords.hash_password, check_new_password(password))
    exists = (await session.execute(select(User.id).where(User.name == name))).first()
    if exists is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(name=name, role=role, password_hash=hashed, disabled=False)
    session.add(user)
    await session.flush()
    return user


async def _other_active_admins(session: AsyncSession, user: User) -> int:
    return (await session.execute(
        select(func.count()).select_from(User)
        .where(User.role == "admin", User.disabled.is_(False), User.id != user.id)
    )).scalar_one()


async def set_disabled(session: AsyncSession, name: object, disabled: bool) -> User:
    """Disable (their tokens stop working at once) or enable a user."""
    user = await get_user(session, name)
    if disabled and user.role == "admin" and not await _other_active_admins(session, user):
        raise Conflict("cannot disable the last active admin")
    user.disabled = disabled
    await session.flush()
    return user


async def set_role(session: AsyncSession, name: object, role: object) -> User:
    role = check_role(role)
    user = await get_user(session, name)
    if user.role == "admin" and role != "admin" and not user.disabled \
            and not await _other_active_admins(session, user):
        raise Conflict("cannot take the admin role from the last active admin")
    user.role = role
    await session.flush()
    return user


def check_units(units: object) -> list[str]:
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise AccountError("units must be a list of unit names")
    clean = sorted({u.strip() for u in units if u.strip()})
    if any(len(u) > 100 for u in clean) or len(clean) > 100:
        raise AccountError("a unit name has at most 100 characters (at most 100 units)")
    return clean


async def set_units(session: AsyncSession, name: object, units: object) -> User:
    user = await get_user(session, name)
    user.units = check_units(units)
    return user


async def set_password(session: AsyncSession, name: object, password: object) -> User:
    user = await get_user(session, name)
    user.password_hash = await asyncio.to_thread(
        passwords.hash_password, check_new_password(password))
    await session.flush()
    return user


# ------------------------------------------------------------------------ tokens


async def create_token(session: AsyncSession, user_name: str, label: str = "cli",
                       ttl_days: float = DEFAULT_TTL_DAYS) -> str:
    user = await get_user(session, user_name)
    if user.disabled:
        raise AccountError(f"user {user.name!r} is disabled")
    if not 0 < ttl_days <= 3650:
        raise AccountError("a token lives between 1 day and 3650 days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(ApiToken(user_id=user.id, name=label[:100], token_hash=token_hash(token),
                         created_at=now, expires_at=now + timedelta(days=ttl_days)))
    await session.flush()
    return token


def _expiry(row: ApiToken, ttl_days: float) -> datetime:
    return row.expires_at or row.created_at + timedelta(days=ttl_days)


async def list_tokens(session: AsyncSession, user_name: str | None = None, *,
                      ttl_days: float = DEFAULT_TTL_DAYS) -> list[TokenInfo]:
    stmt = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
    if user_name is not None:
        stmt = stmt.where(User.id == (await get_user(session, user_name)).id)
    rows = (await session.execute(stmt.order_by(ApiToken.id))).all()
    return [TokenInfo(t.id, name, t.name, t.created_at, _expiry(t, ttl_days), t.last_used_at,
                      t.revoked_at) for t, name in rows]


async def revoke_token(session: AsyncSession, token_id: int, *,
                       owner_id: int | None = None) -> bool:
    """Revoke one token (of `owner_id` only, when given); False if there is no such
    token (or it is someone else's). Revoking twice is harmless."""
    row = await session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return True


@dataclass(frozen=True)
class TokenCheck:
    principal: Principal
    touch: bool  # last_used_at is due for an update


async def check_token(session: AsyncSession, token: str, *,
                      ttl_days: float = DEFAULT_TTL_DAYS) -> TokenCheck | None:
    """Who `token` acts for, if it is live: known, not revoked, not expired, and its
    user not disabled. Reads only; see `touch_token`."""
    if not looks_like_token(token):
        return None
    row = (await session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(token))
    )).first()
    if row is None:
        return None
    tok, user = row
    now = utcnow()
    if user.disabled or tok.revoked_at is not None or _expiry(tok, ttl_days) <= now:
        return None
    touch = tok.last_used_at is None or now - tok.last_used_at >= TOUCH_EVERY
    return TokenCheck(Principal(user.id, user.name, user.role, tok.id,
                                frozenset(user.units or ())), touch)


async def touch_token(session: AsyncSession, token_id: int) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id)
                          .values(last_used_at=utcnow()))


async def principal_for_token(session: AsyncSession, token: str, *,
                              ttl_days: float = DEFAULT_TTL_DAYS) -> Principal | None:
    checked = await check_token(session, token, ttl_days=ttl_days)
    if checked is None:
        return None
    if checked.touch and checked.principal.token_id is not None:
        await touch_token(session, checked.principal.token_id)
    return checked.principal


# ---------------------------------------------------------------------- passwords


class LoginGuard:
    """Failed logins allowed per user name and per client address in a sliding window,
    shared by every process on the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], per_user: int = 5,
                 per_client: int = 20, window: float = 900.0):
        self.failures = SharedWindow(sessions)
        self.per_user, self.per_client, self.window = per_user, per_client, window

    @staticmethod
    def _keys(name: str, client: str) -> tuple[str, str]:
        return f"user:{name.lower()[:150]}", f"client:{client[:45]}"

    async def retry_after(self, name: str, client: str) -> float:
        user, addr = self._keys(name, client)
        return await self.failures.retry_after(
            {user: self.per_user, addr: self.per_client}, self.window)

    async def failed(self, name: str, client: str) -> None:
        await self.failures.add(list(self._keys(name, client)), self.window)

    async def succeeded(self, name: str) -> None:
        await self.failures.clear(self._keys(name, "")[0])


async def check_password(session: AsyncSession, name: str, password: str, *, client: str,
                         guard: LoginGuard) -> Principal | None:
    """The user if `password` is theirs and they are enabled, else None.

    Raises `LoginThrottled` (with `retry_after` seconds) after too many failures for
    this name or from this client address. A hash with old parameters is replaced on
    success. Unknown names cost the same time as known ones."""
    name = name if isinstance(name, str) else ""
    wait = await guard.retry_after(name, client)
    if wait > 0:
        raise LoginThrottled(wait)
    user = None
    if _NAME.fullmatch(name):
        user = (await session.execute(select(User).where(User.name == name))
                ).scalar_one_or_none()
    if not isinstance(password, str) or user is None or user.password_hash is None:
        await asyncio.to_thread(passwords.burn_time, password if isinstance(password, str)
                                else "")
        ok = False
    else:
        ok = await asyncio.to_thread(passwords.verify_password, password, user.password_hash)
    if not ok or user is None or user.disabled:
        await guard.failed(name, client)
        return None
    await guard.succeeded(name)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
        await session.flush()
    return Principal(user.id, user.name, user.role, units=frozenset(user.units or ()))


login = check_password
