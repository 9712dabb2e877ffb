"""A small in-memory sliding window of failures per key (user name, client address).

Enough for one process; each replica keeps its own, which multiplies an attacker's
allowance by the number of replicas and no more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most `limit` events per key within `window` seconds."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        cutoff = self.clock() - self.window
        while events and events[0] <= cutoff:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def retry_after(self, key: str) -> float:
        """0 if `key` may try now, else seconds until its oldest failure leaves."""
        events = self._recent(key)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self.clock())

    def add(self, key: str) -> None:
        if key not in self._events and len(self._events) >= self.max_keys:
            self._sweep()
        self._events.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        self._events.pop(key, None)

    def _sweep(self) -> None:
        for key in list(self._events):
            self._recent(key)
        while len(self._events) >= self.max_keys:  # still full: forget the oldest keys
            self._events.pop(next(iter(self._events)))
