"""The ticket-detail section of signals: engagement samples, oldest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.tickets.query import iso
from storage.models import EngagementSample, Ticket


async def engagement(session: AsyncSession, ticket: Ticket) -> list[dict[str, Any]]:
    samples = (
        await session.execute(
            select(EngagementSample)
            .where(EngagementSample.ticket_id == ticket.id)
            .order_by(EngagementSample.at, EngagementSample.id)
            .limit(1000)
        )
    ).scalars().all()
    return [{"report_id": s.report_id, "at": iso(s.at), "metrics": s.metrics} for s in samples]
