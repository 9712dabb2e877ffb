"""How many `aggregator run` processes share the database right now.

Each process keeps a lease row `process:<its id>` alive (renewed every `interval`,
lasting `ttl`) and counts the live ones in the same round. Limits meant for the whole
deployment (the webhook's token buckets) are split by this count, so each process
enforces its share from memory instead of asking the database per request.

The count is a few seconds stale by design: a process that starts is counted by the
others within `interval`, one that dies (kill -9) is forgotten within `ttl` plus one
round. On SQLite only one process runs (the run lock), so the count is always 1 and
nothing is written. When the database is away the last count stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.runtime import leases
from storage.models import Lease
from storage.types import utcnow

log = logging.getLogger("aggregator.census")

PREFIX = "process:"
INTERVAL = 2.0  # seconds between two rounds
TTL = 6.0  # seconds a process stays counted without a round


class Census:
    """`census()` is the number of live processes (at least 1), read from memory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, shared: bool,
                 holder: str = leases.PROCESS_ID, interval: float = INTERVAL,
                 ttl: float = TTL):
        self.sessions = sessions
        self.shared = shared  # False on SQLite: this is the only process
        self.key = PREFIX + holder
        self.holder = holder
        self.interval = interval
        self.ttl = ttl
        self.count = 1
        self._task: asyncio.Task[None] | None = None

    def __call__(self) -> int:
        return self.count

    async def refresh(self) -> int:
        """Renew this process's row, forget dead ones, count the live ones."""
        if not self.shared:
            return self.count
        await leases.acquire(self.sessions, self.key, self.ttl, self.holder)
        now = utcnow()
        live = Lease.name.like(PREFIX + "%")
        async with self.sessions() as s, s.begin():
            await s.execute(delete(Lease).where(live, Lease.expires_at < now))
            found = (await s.execute(select(func.count()).select_from(Lease).where(
                live, Lease.expires_at >= now))).scalar_one()
        if found != self.count:
            log.info("processes sharing the database: %d", found,
                     extra={"before": self.count})
        self.count = max(1, int(found))
        return self.count

    async def start(self) -> None:
        """Count once now (so the first request already sees the right share), then
        keep counting in the background."""
        if not self.shared:
            return
        await self._round()
        self._task = asyncio.create_task(self._loop(), name="census")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._round()

    async def _round(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # noqa: BLE001 - keep the last count; try again
            log.warning("could not count processes: %s", exc)

    async def stop(self) -> None:
        """Leave the count at once, so the others take over this process's share
        without waiting for its row to expire."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):  # it expires anyway
            await leases.release(self.sessions, self.key, self.holder)
