"""Staff users and API tokens. Tokens are random and stored only as SHA-256 hashes;
passwords use scrypt from the standard library."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, User
from storage.types import utcnow

ROLES = ("agent", "supervisor", "admin")
TOKEN_PREFIX = "adu_"


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    check = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(check.hex(), digest)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(session: AsyncSession, name: str, role: str,
                   password: str | None = None) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not name or len(name) > 100 or not name.replace(".", "").replace("-", "").replace(
        "_", ""
    ).isalnum():
        raise AccountError("name must be 1-100 letters, digits, '.', '-' or '_'")
    exists = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
    if exists is not None:
        raise AccountError(f"user {name!r} already exists")
    user = User(name=name, role=role,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    await session.flush()
    return user


async def create_token(session: AsyncSession, user_name: str, label: str = "cli") -> str:
    user = (await session.execute(select(User).where(User.name == user_name))).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user named {user_name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=label, token_hash=token_hash(token)))
    await session.flush()
    return token


async def principal_for_token(session: AsyncSession, token: str) -> Principal | None:
    row = (
        await session.execute(
            select(ApiToken.id, User.id, User.name, User.role, User.disabled)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(token))
        )
    ).first()
    if row is None or row[4]:
        return None
    await session.execute(update(ApiToken).where(ApiToken.id == row[0]).values(
        last_used_at=utcnow()))
    return Principal(user_id=row[1], name=row[2], role=row[3])
