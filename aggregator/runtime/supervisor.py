"""Keeps every connector and job running: a crash restarts that one with backoff and
jitter; the others never notice."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aggregator.runtime import backoff

log = logging.getLogger("aggregator.supervisor")

HEALTHY_AFTER = 60.0  # seconds of uptime that forgive earlier crashes


class Supervised(Protocol):
    """What the supervisor keeps alive: a connector or a job runner."""

    log: logging.LoggerAdapter[logging.Logger]

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class Health:
    state: str = "starting"  # starting | running | backoff | stopped
    restarts: int = 0
    last_error: str | None = None
    since: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "last_error": self.last_error}


class Supervisor:
    def __init__(self, connectors: Mapping[str, Supervised],
                 jobs: Mapping[str, Supervised] | None = None, *, base_delay: float = 1.0,
                 max_delay: float = 60.0):
        self.groups: dict[str, Mapping[str, Supervised]] = {
            "connectors": connectors, "jobs": jobs or {}}
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.health = {(g, n): Health() for g, items in self.groups.items() for n in items}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connectors(self) -> Mapping[str, Supervised]:
        return self.groups["connectors"]

    def _all(self) -> list[tuple[tuple[str, str], Supervised]]:
        return [((g, n), item) for g, items in self.groups.items() for n, item in items.items()]

    def start(self) -> None:
        for key, item in self._all():
            self._tasks.append(asyncio.create_task(self._keep(key, item),
                                                   name=f"{key[0]}-{key[1]}"))

    async def _keep(self, key: tuple[str, str], item: Supervised) -> None:
        health = self.health[key]
        failures = 0
        while True:
            health.state, health.since = "running", time.monotonic()
            try:
                await item.run()
                error = "run() returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any crash is restarted
                error = f"{type(exc).__name__}: {exc}"
                item.log.error("%s crashed: %s", key[0][:-1], error, exc_info=True)
            if time.monotonic() - health.since > HEALTHY_AFTER:
                failures = 0
            failures += 1
            wait = backoff.delay(failures, base=self.base_delay, cap=self.max_delay)
            health.state, health.last_error = "backoff", error
            health.restarts += 1
            item.log.warning("restarting in %.1fs", wait)
            await asyncio.sleep(wait)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask each connector and job to stop taking input, then cancel what is left."""
        stops = [self._stop_one(key, item) for key, item in self._all()]
        await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True), grace)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for h in self.health.values():
            h.state = "stopped"

    async def _stop_one(self, key: tuple[str, str], item: Supervised) -> None:
        try:
            await item.stop()
        except Exception:  # noqa: BLE001
            log.exception("stopping failed", extra={"part": "/".join(key)})

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (group, name), item in self._all():
            details = self.health[(group, name)].as_dict()
            try:
                details.update(item.health())
            except Exception as exc:  # noqa: BLE001 - health must never crash /healthz
                details["health_error"] = str(exc)
            out.setdefault(group, {})[name] = details
        out.setdefault("connectors", {})
        return out
