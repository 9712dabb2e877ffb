"""One process at a time drives a polling connector (a mailbox, a bot token, an X
account), however many processes share the database.

The supervisor runs such a connector inside `Leased`: it waits for the lease
`connector:<name>`, runs the connector while renewing the lease every third of its
lifetime, and stops the connector the moment a renewal fails (another process may take
over once the lease expires). A holder that dies (kill -9) or hangs stops renewing, so
a standby process takes over within `ttl` plus one standby round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.intake.port import Connector
from aggregator.runtime import leases

TTL = 6.0  # seconds a lease lasts without renewal


class LeaseLost(RuntimeError):
    pass


class Leased:
    def __init__(self, inner: Connector, sessions: async_sessionmaker[AsyncSession],
                 ttl: float = TTL, holder: str = leases.PROCESS_ID):
        self.inner = inner
        self.sessions = sessions
        self.ttl = ttl
        self.holder = holder
        self.key = f"connector:{inner.name}"
        self.log: logging.LoggerAdapter[logging.Logger] = inner.log
        self.holding = False
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not await leases.acquire(self.sessions, self.key, self.ttl, self.holder):
            self.holding = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.ttl / 3)
            if self._stopping.is_set():
                return
        self.holding = True
        self.log.info("took the lease %s", self.key)
        task = asyncio.create_task(self.inner.run(), name=f"leased-{self.inner.name}")
        try:
            while True:
                done, _ = await asyncio.wait([task], timeout=self.ttl / 3)
                if task in done:
                    task.result()  # raises what the connector raised
                    return
                if not await leases.acquire(self.sessions, self.key, self.ttl, self.holder):
                    raise LeaseLost(f"lost the lease {self.key} to another process")
        finally:
            if not task.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.inner.stop(), self.ttl / 3)
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            self.holding = False

    async def stop(self) -> None:
        self._stopping.set()
        await self.inner.stop()
        if self.holding:
            with contextlib.suppress(Exception):  # it expires anyway
                await leases.release(self.sessions, self.key, self.holder)

    def health(self) -> dict[str, Any]:
        return {"lease": "held" if self.holding else "standby", **self.inner.health()}
