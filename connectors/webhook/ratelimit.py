"""Token buckets for the intake: one per connector and one per client address.

In memory on purpose: a limit must cost nothing per request, so no database round
trip. The configured limits still hold for the whole deployment: with N processes
serving the webhook (the census counts them every few seconds), each enforces its
share, `rate / N` and `burst // N` (at least 1).

The trade-off: the sum is right when requests are spread over the processes (a
round-robin proxy in front), but a client whose requests all land on one process
(a sticky or hashing proxy, or a client that keeps one connection open) gets only
1/N of the configured allowance. For a few seconds after a process starts or dies
the shares are computed from the old count, so the total may briefly be up to one
share above the limit (or below it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Bucket:
    """Tokens and when they were counted; the rate and size come with each call, so a
    bucket follows its limiter's share when the number of processes changes."""

    __slots__ = ("tokens", "stamp")

    def __init__(self, burst: float, now: float):
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, rate: float, burst: float) -> float:
        """0 if a request may pass (and counts it), else seconds until one may."""
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rate

    def full(self, now: float, rate: float, burst: float) -> bool:
        return self.tokens + (now - self.stamp) * rate >= burst


class RateLimiter:
    """`check(key)` answers 0 (pass) or the seconds to put in `Retry-After`.

    A rate of 0 disables the limiter. `processes()` says how many processes share
    the configured limit (this one enforces its share). Idle buckets are dropped once
    there are many, so a scan from many addresses cannot grow memory without bound."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        processes: Callable[[], int] = lambda: 1,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate = rate
        self.burst = burst
        self.processes = processes
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def share(self) -> tuple[float, float]:
        """This process's rate and burst: the configured ones split N ways."""
        n = max(1, self.processes())
        return self.rate / n, float(max(1, self.burst // n))

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str = "") -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        rate, burst = self.share()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now, rate, burst)
            bucket = self._buckets[key] = Bucket(burst, now)
        return bucket.take(now, rate, burst)

    def _prune(self, now: float, rate: float, burst: float) -> None:
        idle = [k for k, b in self._buckets.items() if b.full(now, rate, burst)]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:  # all busy: forget the oldest half
            for k in list(self._buckets)[: self.max_keys // 2]:
                del self._buckets[k]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
