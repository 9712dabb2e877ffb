"""Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

from __future__ import annotations

import random


def delay(attempt: int, *, base: float = 1.0, cap: float = 60.0,
          rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)
