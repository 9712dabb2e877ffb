"""Time series that feed virality: social engagement samples per report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import JSONType, UTCDateTime, utcnow


class EngagementSample(Base):
    """Public metrics of one social post at one moment (retweets, likes, ...)."""

    __tablename__ = "engagement_samples"
    __table_args__ = (Index("ix_engagement_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
