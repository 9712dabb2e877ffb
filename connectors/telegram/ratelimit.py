"""Per-user flood limit: at most N messages in any window of T seconds.

A sliding window (not a token bucket) because the operator-facing rule is literally
"N messages per T seconds" and the user must be told, once per window, how long to
wait. In memory on purpose: one poller owns a bot, and a restart forgiving a flood is
harmless. Idle users are pruned so a flood of distinct senders cannot grow memory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

PRUNE_FROM = 1024  # users tracked before idle ones are pruned


@dataclass(slots=True)
class _User:
    stamps: deque[float] = field(default_factory=deque)
    told_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    notify: bool = False  # the first refusal of a window: tell the user
    wait: float = 0.0  # seconds until a message would be accepted again


class UserRateLimit:
    def __init__(
        self,
        messages: int,
        per_seconds: float,
        *,
        max_users: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.messages = messages
        self.per_seconds = per_seconds
        self.max_users = max_users
        self.clock = clock
        self._users: dict[str, _User] = {}
        self._prune_at = min(PRUNE_FROM, max_users)
        self.refused = 0

    def check(self, key: str) -> Verdict:
        if self.messages <= 0:
            return Verdict(True)
        now = self.clock()
        user = self._users.get(key)
        if user is None:
            if len(self._users) >= self._prune_at:
                self._prune(now)
            user = self._users[key] = _User()
        horizon = now - self.per_seconds
        while user.stamps and user.stamps[0] <= horizon:
            user.stamps.popleft()
        if len(user.stamps) < self.messages:
            user.stamps.append(now)
            return Verdict(True)
        self.refused += 1
        wait = user.stamps[0] + self.per_seconds - now
        notify = now >= user.told_until
        if notify:
            user.told_until = now + self.per_seconds
        return Verdict(False, notify=notify, wait=wait)

    def _prune(self, now: float) -> None:
        horizon = now - self.per_seconds
        idle = [k for k, u in self._users.items()
                if (not u.stamps or u.stamps[-1] <= horizon) and u.told_until <= now]
        for k in idle:
            del self._users[k]
        if len(self._users) >= self.max_users:
            for k in list(self._users)[: self.max_users // 2]:
                del self._users[k]
        # Again when the users still in a window have doubled: most chats write once,
        # and waiting for max_users kept ~800 bytes for each of 50,000 idle ones.
        self._prune_at = min(self.max_users, max(PRUNE_FROM, 2 * len(self._users)))
