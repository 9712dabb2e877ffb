"""Token buckets for the intake: one per connector and one per client address.

In memory and per process on purpose: a limit exists to keep one sender from
swamping the ingest queue of this process, and it must cost nothing per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Bucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> float:
        """0 if a request may pass (and counts it), else seconds until one may."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class RateLimiter:
    """`check(key)` answers 0 (pass) or the seconds to put in `Retry-After`.

    A rate of 0 disables the limiter. Idle buckets are dropped once there are many,
    so a scan from many addresses cannot grow memory without bound."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str = "") -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = Bucket(self.rate, self.burst, now)
        return bucket.take(now)

    def _prune(self, now: float) -> None:
        idle = [k for k, b in self._buckets.items() if b.full(now)]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the oldest half
            for k in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[k]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
