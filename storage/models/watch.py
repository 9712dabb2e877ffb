"""Per-ticket state of the features that watch open tickets: the virality detector
and the escalation policy runner. One row per ticket each, written by their jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import JSONType, UTCDateTime, utcnow


class Virality(Base):
    """The burst detector's state for one ticket, and its latest verdict."""

    __tablename__ = "virality"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    peak_level: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_report_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Escalation(Base):
    """How far a ticket has been escalated, why, and who acknowledged it."""

    __tablename__ = "escalations"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)  # watch words seen
    breaches: Mapped[list[str]] = mapped_column(JSONType, default=list)  # SLA breaches told
    last_report_id: Mapped[int] = mapped_column(BigInteger, default=0)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_level: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
