"""Periodic work under the supervisor.

A `Job` is one round of work and how often to run it. The supervisor keeps its runner
alive like a connector (a crash restarts it with backoff; its state shows in /healthz).
A single-instance job runs only in the process holding its lease, so with several
processes on one database each round happens once; the lease passes to another process
within `lease_ttl` seconds when the holder dies.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.runtime import leases

log = logging.getLogger("aggregator.jobs")
JITTER = 0.1  # rounds start every interval, give or take this share of it


@dataclass(frozen=True)
class Job:
    name: str
    round: Callable[[], Awaitable[None]]  # one round of work; raise to be restarted
    interval: float  # seconds between the start of two rounds
    single_instance: bool = False
    lease_seconds: float | None = None  # default: three rounds, at least 15 s

    @property
    def lease_ttl(self) -> float:
        return self.lease_seconds or max(3 * self.interval, 15.0)


class JobRunner:
    """Runs one job's rounds forever; the supervisor restarts it when a round raises."""

    def __init__(self, job: Job, sessions: async_sessionmaker[AsyncSession],
                 holder: str = leases.PROCESS_ID):
        self.job = job
        self.sessions = sessions
        self.holder = holder
        self.name = job.name
        self.log = logging.LoggerAdapter(log, {"job": job.name})
        self.rounds = 0
        self.holding = not job.single_instance
        self.last_round_at: float | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            if self.job.single_instance:
                self.holding = await leases.acquire(self.sessions, f"job:{self.name}",
                                                    self.job.lease_ttl, self.holder)
            if self.holding:
                await self.job.round()
                self.rounds += 1
                self.last_round_at = time.time()
            # Jittered: two jobs of one interval started together stayed in step, and
            # when both take their tickets FOR UPDATE SKIP LOCKED (escalation, the
            # virality watch), one could skip the same ticket every round, for good.
            interval = self.job.interval * random.uniform(1 - JITTER, 1 + JITTER)
            wait = max(0.0, interval - (time.monotonic() - started))
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        if self.job.single_instance and self.holding:
            try:
                await leases.release(self.sessions, f"job:{self.name}", self.holder)
            except Exception:  # noqa: BLE001 - it expires anyway
                self.log.warning("could not release lease", exc_info=True)
            self.holding = False

    def health(self) -> dict[str, Any]:
        return {"single_instance": self.job.single_instance, "holding": self.holding,
                "rounds": self.rounds, "interval": self.job.interval,
                "last_round_at": self.last_round_at}
