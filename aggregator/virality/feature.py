"""Virality as a feature: the burst watch (a single-instance job: each open ticket's
reports and engagement, then each channel's reports) and the ticket-detail section with
the level, the stream that drove it, the score and the evidence behind them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.runtime.features import Feature
from aggregator.runtime.jobs import Job
from aggregator.tickets.query import Section
from aggregator.virality import channels
from aggregator.virality.detector import DetectorSettings
from aggregator.virality.watch import watch, watched_ids
from storage.models import Ticket, Virality
from storage.types import utcnow


class ViralityFeature(Feature):
    name = "virality"

    def enabled(self) -> bool:
        return self.ctx.settings.virality.enabled

    def jobs(self) -> Sequence[Job]:
        settings = DetectorSettings()

        async def round_() -> None:
            now = utcnow()
            async with self.ctx.read_sessions() as session:
                ids = await watched_ids(session, now)
            await watch(self.ctx.sessions, settings, ids, now)
            async with self.ctx.sessions() as session, session.begin():
                await channels.run_round(session)

        interval = self.ctx.settings.virality.interval.total_seconds()
        return [Job("virality", round_, interval=interval, single_instance=True)]

    def sections(self) -> dict[str, Section]:
        async def virality(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
            row = await session.get(Virality, ticket.id)
            if row is None:
                return {"level": 0, "score": 0.0}
            return {"level": row.level, "peak_level": row.peak_level, "score": row.score,
                    "stream": (row.evidence or {}).get("stream", "reports"),
                    "evidence": row.evidence, "updated_at": row.updated_at.isoformat()}

        return {"virality": virality}
