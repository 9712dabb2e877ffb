"""Engagement samples: the public_metrics of ticketed tweets over time.

The virality detector reads the samples (one per tweet per change): the core writes a
sample only when a tweet's metrics differ from its last one, so a quiet tweet costs a
lookup but no rows. The newest metrics are also kept in the report's
`meta.public_metrics`, where staff see them on the ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from aggregator.intake.port import ConnectorContext, SignalSample, TrackedReport

META_KEY = "public_metrics"

# A tweet on an open ticket: `external_id` is the tweet id.
Tracked = TrackedReport


async def candidates(
    ctx: ConnectorContext, *, now: datetime, max_age_hours: float, limit: int,
) -> list[Tracked]:
    """Tweets of this source on open tickets, posted within the age limit, newest
    first (the newest are the ones that can still take off). Merged tickets count as
    their surviving ticket."""
    return await ctx.tracked_reports(now - timedelta(hours=max_age_hours), limit)


async def record(
    ctx: ConnectorContext, observed: Iterable[tuple[Tracked, dict[str, int]]],
    *, at: datetime,
) -> int:
    """Write a sample for every tweet whose metrics changed; returns how many."""
    samples = [SignalSample(t.report_id, t.ticket_id, at, metrics, meta_key=META_KEY)
               for t, metrics in observed if metrics]
    if not samples:
        return 0
    return await ctx.record_signals(samples)
