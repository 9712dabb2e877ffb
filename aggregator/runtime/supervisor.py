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
    errors: int = 0  # crashes that raised (a run() that returned is a restart, no error)
    last_error: str | None = None
    since: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "errors": self.errors,
                "last_error": self.last_error}


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
        self._stopping = False

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
            health.since = time.monotonic()
            self._change(key, item, "running")
            try:
                await item.run()
                if self._stopping:  # asked to stop: returning is what it should do
                    return
                error = "run() returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any crash is restarted
                error = f"{type(exc).__name__}: {exc}"
                health.errors += 1
                # The traceback once per kind of error; a crash loop repeats one line.
                if error != health.last_error:
                    item.log.error("%s crashed: %s", key[0][:-1], error, exc_info=True)
            if time.monotonic() - health.since > HEALTHY_AFTER:
                failures = 0
            failures += 1
            wait = backoff.delay(failures, base=self.base_delay, cap=self.max_delay)
            health.last_error = error
            health.restarts += 1
            self._change(key, item, "backoff", f"{error}; restart {health.restarts} in "
                         f"{wait:.1f}s")
            await asyncio.sleep(wait)

    def _change(self, key: tuple[str, str], item: Supervised, state: str,
                detail: str | None = None) -> None:
        """Set a part's state, logging the change once (one line per transition)."""
        health = self.health[key]
        before, health.state = health.state, state
        if before == state and detail is None:
            return
        level = logging.WARNING if state == "backoff" else logging.INFO
        item.log.log(level, "%s %s: %s -> %s%s", key[0][:-1], key[1], before, state,
                     f" ({detail})" if detail else "")

    async def stop(self, grace: float = 5.0) -> None:
        """Ask each connector and job to stop taking input, then cancel what is left."""
        self._stopping = True
        stops = [self._stop_one(key, item) for key, item in self._all()]
        await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True), grace)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for key, item in self._all():
            self._change(key, item, "stopped")

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
