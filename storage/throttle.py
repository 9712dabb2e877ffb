"""Failed sign-ins per key (user name, client address) in a sliding window, kept in the
database: every replica counts the same failures, so running more processes does not
multiply an attacker's allowance, and a restart does not reset it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import LoginFailure
from storage.types import utcnow


class SharedWindow:
    """At most `limit` failures per key within `window` seconds."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self.sessions = sessions

    async def retry_after(self, limits: dict[str, int], window: float) -> float:
        """0 if every key may try now, else seconds until the oldest failure that
        keeps one of them at its limit leaves the window."""
        now = utcnow()
        wait = 0.0
        async with self.sessions() as session:
            for key, limit in limits.items():
                if limit <= 0:
                    continue
                ats = list((await session.execute(
                    select(LoginFailure.at)
                    .where(LoginFailure.key == key,
                           LoginFailure.at > now - timedelta(seconds=window))
                    .order_by(LoginFailure.at.desc()).limit(limit)
                )).scalars())
                if len(ats) >= limit:
                    left = (ats[-1] + timedelta(seconds=window) - now).total_seconds()
                    wait = max(wait, left, 0.001)
        return wait

    async def add(self, keys: list[str], window: float) -> None:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            # Failures that left the window go as new ones come: the table stays small.
            await session.execute(delete(LoginFailure).where(
                LoginFailure.at <= now - timedelta(seconds=window)))
            session.add_all([LoginFailure(key=k, at=now) for k in keys])

    async def clear(self, key: str) -> None:
        async with self.sessions() as session:
            if (await session.execute(select(LoginFailure.id).where(
                    LoginFailure.key == key).limit(1))).first() is None:
                return  # the usual case: no write transaction for a clean sign-in
            await session.execute(delete(LoginFailure).where(LoginFailure.key == key))
            await session.commit()
