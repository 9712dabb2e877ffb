"""Leases: one process at a time does a thing, even with several processes on one
PostgreSQL database. A holder renews its lease before it expires; when the holder dies
or hangs, the lease expires and another process takes it. Plain rows, so the same
code works on SQLite (where only one process runs anyway)."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo
from storage.models import Lease
from storage.types import utcnow

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def acquire(sessions: async_sessionmaker[AsyncSession], name: str, ttl: float,
                  holder: str = PROCESS_ID) -> bool:
    """Take or renew the lease `name` for `ttl` seconds; False if another holds it."""
    now = utcnow()
    until = now + timedelta(seconds=ttl)
    async with sessions() as s, s.begin():
        await s.execute(repo.insert_ignore(s, Lease, ["name"]).values(
            name=name, holder=holder, expires_at=until, acquired_at=now))
        result = await s.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(sessions: async_sessionmaker[AsyncSession], name: str,
                  holder: str = PROCESS_ID) -> None:
    async with sessions() as s, s.begin():
        await s.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def release_all(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Drop every lease; returns how many. Only for a process that knows it is the
    only one alive (the SQLite run lock): every lease left is a dead process's."""
    async with sessions() as s, s.begin():
        result = await s.execute(delete(Lease))
        return int(result.rowcount)  # type: ignore[attr-defined]


async def holders(session: AsyncSession) -> dict[str, dict[str, str]]:
    """Every live lease: name -> holder and expiry (for the CLI's `status`)."""
    rows = (await session.execute(
        select(Lease).where(Lease.expires_at >= utcnow()).order_by(Lease.name))).scalars()
    return {r.name: {"holder": r.holder, "expires_at": r.expires_at.isoformat()}
            for r in rows}
