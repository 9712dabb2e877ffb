"""Keeps every connector running: a crash restarts that one with backoff and jitter;
the others never notice."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from aggregator.runtime import backoff
from aggregator.intake.port import Connector

log = logging.getLogger("aggregator.runtime.supervisor")

HEALTHY_AFTER = 60.0  # seconds of uptime that forgive earlier crashes


@dataclass
class Health:
    state: str = "starting"  # starting | running | backoff | stopped
    restarts: int = 0
    last_error: str | None = None
    since: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "last_error": self.last_error}


class Supervisor:
    def __init__(self, connectors: dict[str, Connector], *, base_delay: float = 1.0,
                 max_delay: float = 60.0):
        self.connectors = connectors
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.health = {name: Health() for name in connectors}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        for name, conn in self.connectors.items():
            self._tasks[name] = asyncio.create_task(self._keep(name, conn), name=f"conn-{name}")

    async def _keep(self, name: str, conn: Connector) -> None:
        health = self.health[name]
        failures = 0
        while True:
            health.state, health.since = "running", time.monotonic()
            try:
                await conn.run()
                error = "run() returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any crash is restarted
                error = f"{type(exc).__name__}: {exc}"
                conn.log.error("connector crashed: %s", error, exc_info=True)
            if time.monotonic() - health.since > HEALTHY_AFTER:
                failures = 0
            failures += 1
            wait = backoff.delay(failures, base=self.base_delay, cap=self.max_delay)
            health.state, health.last_error = "backoff", error
            health.restarts += 1
            conn.log.warning("restarting connector in %.1fs", wait)
            await asyncio.sleep(wait)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask each connector to stop taking input, then cancel what is left."""
        stops = [self._stop_one(name, conn) for name, conn in self.connectors.items()]
        await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True), grace)
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks.values(), timeout=grace)
        for h in self.health.values():
            h.state = "stopped"

    async def _stop_one(self, name: str, conn: Connector) -> None:
        try:
            await conn.stop()
        except Exception:  # noqa: BLE001
            log.exception("stopping connector failed", extra={"connector": name})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, conn in self.connectors.items():
            details = self.health[name].as_dict()
            try:
                details.update(conn.health())
            except Exception as exc:  # noqa: BLE001 - health must never crash /healthz
                details["health_error"] = str(exc)
            out[name] = details
        return out
