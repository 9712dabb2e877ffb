"""Spending X's paid API wisely: one `Quota` per endpoint, and a `Gate` in front of
every call.

A call goes ahead only if (a) our own budget from config has room in its sliding
15-minute and 24-hour windows, (b) X did not tell us the bucket is empty (429, or
`x-rate-limit-remaining: 0` until `x-rate-limit-reset`), and (c) we are not backing off
after a 5xx or a network error. Otherwise the Gate raises `NotNow(wait)` and the caller
schedules that endpoint's next attempt then, without touching the network.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from tweepy.errors import TooManyRequests, TwitterServerError

from aggregator.runtime import backoff
from connectors.twitter.settings import ENDPOINTS, Budget, TwitterSettings

T = TypeVar("T")
WINDOW_15MIN = 15 * 60.0
DAY = 24 * 3600.0
# X's reset is a whole-second epoch; start a little after it.
RESET_MARGIN = 1.0
# 429 without a reset header: X's windows are 15 minutes; retry well before that.
NO_RESET_WAIT = 60.0
BACKING_OFF = "backing off after errors"


class NotNow(Exception):  # noqa: N818 - a scheduling signal, not an error
    """This endpoint may not be called for `wait` seconds (budget, 429, backoff)."""

    def __init__(self, endpoint: str, wait: float, reason: str, *, failure: bool = False):
        super().__init__(f"{endpoint}: {reason}, next try in {wait:.1f}s")
        self.endpoint = endpoint
        self.wait = wait
        self.reason = reason
        self.failure = failure  # True: an error (5xx, network), not just a limit


class Quota:
    """One endpoint's allowance and what X last said about it."""

    def __init__(self, name: str, budget: Budget, *, base: float, cap: float):
        self.name = name
        self.budget = budget
        self.base, self.cap = base, cap
        self.spent: deque[float] = deque()  # epoch seconds of our calls, last 24 h
        self.x_limit: int | None = None
        self.x_remaining: int | None = None
        self.x_reset: float | None = None
        self.blocked_until = 0.0  # 429
        self.backoff_until = 0.0  # 5xx / network
        self.failures = 0
        self.last_error: str | None = None

    def _horizon(self) -> float:
        """How far back our calls count: the longest window with a limit. With none,
        nothing is kept: every call's time for a day was held and written into the
        cursor on every commit, for limits that were never checked."""
        if self.budget.per_day is not None:
            return DAY
        return WINDOW_15MIN if self.budget.per_15min is not None else 0.0

    def _trim(self, now: float) -> None:
        horizon = self._horizon()
        while self.spent and self.spent[0] <= now - horizon:
            self.spent.popleft()

    def _used(self, now: float, window: float) -> list[float]:
        return [t for t in self.spent if t > now - window]

    def wait(self, now: float) -> tuple[float, str]:
        """Seconds until the next call is allowed, and why (0 = go)."""
        self._trim(now)
        waits = [(self.blocked_until - now, "rate limited by X"),
                 (self.backoff_until - now, BACKING_OFF)]
        if self.x_remaining == 0 and self.x_reset is not None:
            waits.append((self.x_reset + RESET_MARGIN - now, "X quota used up"))
        for limit, window, label in ((self.budget.per_15min, WINDOW_15MIN, "15-minute"),
                                     (self.budget.per_day, DAY, "daily")):
            if limit is None:
                continue
            if limit == 0:
                waits.append((math.inf, f"{label} budget is 0"))
                continue
            used = self._used(now, window)
            if len(used) >= limit:
                waits.append((used[-limit] + window - now, f"{label} budget spent"))
        wait, why = max(waits)
        return (wait, why) if wait > 0 else (0.0, "")

    def spend(self, now: float) -> None:
        if self._horizon():
            self.spent.append(now)

    def observe(self, headers: Mapping[str, str]) -> None:
        for attr, key in (("x_limit", "x-rate-limit-limit"),
                          ("x_remaining", "x-rate-limit-remaining"),
                          ("x_reset", "x-rate-limit-reset")):
            value = headers.get(key)
            if value is not None and value.strip().isdigit():
                setattr(self, attr, int(value))

    def rate_limited(self, reset: float | None, now: float) -> float:
        """A 429: block until X's reset (plus a margin); returns the wait."""
        self.failures = 0
        if reset is not None and reset > now:
            self.blocked_until = reset + RESET_MARGIN
        else:
            self.blocked_until = now + NO_RESET_WAIT
        self.last_error = "429 Too Many Requests"
        return self.blocked_until - now

    def failed(self, error: str, now: float) -> float:
        """A transient failure: exponential backoff with jitter; returns the wait."""
        self.failures += 1
        wait = backoff.delay(self.failures, base=self.base, cap=self.cap)
        self.backoff_until = now + wait
        self.last_error = error
        return wait

    def succeeded(self) -> None:
        self.failures = 0
        self.backoff_until = 0.0

    def as_dict(self, now: float) -> dict[str, Any]:
        self._trim(now)
        wait, why = self.wait(now)
        out: dict[str, Any] = {
            "budget_15min_left": _left(self.budget.per_15min, self._used(now, WINDOW_15MIN)),
            "budget_day_left": _left(self.budget.per_day, self.spent),
            "x_limit": self.x_limit,
            "x_remaining": self.x_remaining,
            "x_reset_at": _iso(self.x_reset),
            "next_allowed_at": _iso(now + wait) if wait else None,
            "waiting_because": why or None,
            "consecutive_failures": self.failures,
            "last_error": self.last_error,
        }
        return out


class Gate:
    """All quotas of one connector, and the one way to call X."""

    def __init__(self, settings: TwitterSettings, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.quotas = {
            name: Quota(name, settings.budgets[name], base=settings.backoff_initial,
                        cap=settings.backoff_max)
            for name in ENDPOINTS
        }

    async def call(self, endpoint: str, fn: Callable[[], Awaitable[T]]) -> T:
        quota = self.quotas[endpoint]
        now = self.clock()
        wait, why = quota.wait(now)
        if wait > 0:
            raise NotNow(endpoint, wait, why, failure=why == BACKING_OFF)
        quota.spend(now)
        try:
            result = await fn()
        except TooManyRequests as exc:
            raise NotNow(endpoint, quota.rate_limited(exc.reset_time, self.clock()),
                         "429 rate limited") from exc
        except aiohttp.ClientResponseError as exc:  # non-JSON error bodies land here
            if exc.status == 429:
                reset = (exc.headers or {}).get("x-rate-limit-reset")
                reset_at = float(reset) if reset and reset.isdigit() else None
                raise NotNow(endpoint, quota.rate_limited(reset_at, self.clock()),
                             "429 rate limited") from exc
            raise NotNow(endpoint, quota.failed(f"HTTP {exc.status}", self.clock()),
                         f"HTTP {exc.status}", failure=True) from exc
        except (TimeoutError, TwitterServerError, aiohttp.ClientError, ValueError) as exc:
            # ValueError: an answer that is not JSON (or not UTF-8), as a proxy or a
            # half-broken edge sends: as transient as a 5xx, not a crash.
            error = _describe(exc)
            raise NotNow(endpoint, quota.failed(error, self.clock()), error,
                         failure=True) from exc
        quota.succeeded()
        return result

    def observe(self, method: str, path: str, headers: Mapping[str, str]) -> None:
        name = endpoint_of(method, path)
        if name is not None:
            self.quotas[name].observe(headers)

    def as_dict(self) -> dict[str, Any]:
        now = self.clock()
        return {name: q.as_dict(now) for name, q in self.quotas.items()}

    def dump(self) -> dict[str, list[int]]:
        """Calls of the last 24 h, for the cursor: a restart must not reset the daily
        budget (it is money)."""
        now = self.clock()
        out = {}
        for name, q in self.quotas.items():
            q._trim(now)
            if q.spent:
                out[name] = [int(t) for t in q.spent]
        return out

    def load(self, data: Mapping[str, Any]) -> None:
        now = self.clock()
        for name, stamps in (data or {}).items():
            if name in self.quotas and isinstance(stamps, list):
                q = self.quotas[name]
                q.spent = deque(sorted(float(t) for t in stamps if now - DAY < float(t) <= now))


class ReadBudget:
    """Posts read in a sliding 24 h (X bills per post, not per request)."""

    def __init__(self, per_day: int | None):
        self.per_day = per_day
        self.reads: deque[tuple[float, int]] = deque()

    def left(self, now: float) -> int | None:
        while self.reads and self.reads[0][0] <= now - DAY:
            self.reads.popleft()
        if self.per_day is None:
            return None
        return max(0, self.per_day - sum(n for _, n in self.reads))

    def spend(self, now: float, n: int) -> None:
        if self.per_day is not None:  # no limit: nothing to count (or to write down)
            self.reads.append((now, n))

    def dump(self) -> list[list[int]]:
        return [[int(t), n] for t, n in self.reads]

    def load(self, data: Any, now: float) -> None:
        if isinstance(data, list):
            self.reads = deque((float(t), int(n)) for t, n in data if now - DAY < float(t) <= now)


def endpoint_of(method: str, path: str) -> str | None:
    if path.endswith("/mentions"):
        return "mentions"
    if path.startswith("/2/tweets/search/"):
        return "search"
    if path.rstrip("/") == "/2/tweets":
        return "create" if method.upper() == "POST" else "lookup"
    if path.startswith("/2/users"):
        return "users"
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TwitterServerError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ValueError):
        return f"unreadable answer ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"[:200]


def _left(limit: int | None, used: Any) -> int | None:
    return None if limit is None else max(0, limit - len(used))


def _iso(epoch: float | None) -> str | None:
    if epoch is None or math.isinf(epoch):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
