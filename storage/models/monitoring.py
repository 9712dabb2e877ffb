"""Tables and indexes of monitoring and evaluation (aggregator/monitoring).

`survey_answers` keeps every answer to the satisfaction survey (IKM): one row per
element answered, never overwritten, so a second answer by the same person is a new
row and the figures choose (the latest per person, ticket and element).

`monitoring_cells` are the figures' building blocks, derived from the other tables and
rebuilt by the monitoring feature whenever what they summarise changes: one row per
local day, unit and confidentiality, holding that day's counts, durations and
tallies (aggregator/monitoring/cells.py). A year of figures reads a few thousand of
them instead of every ticket, report and answer. `monitoring_rollup` remembers how far
the rebuilding got. Both can be dropped at any time: they are rebuilt from scratch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.models.core import Report, Ticket, TicketEvent
from storage.types import UTCDateTime, utcnow

# JSON whose None is SQL NULL (not the JSON text `null`), so `IS NULL` finds it.
NullableJSON: Any = JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql")


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (
        Index("ix_survey_answers_at", "at"),
        Index("ix_survey_answers_ticket", "ticket_id", "respondent", "element"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    # The channel the respondent complained through (telegram, email, web-form...).
    channel: Mapped[str] = mapped_column(String(64))
    # Who answered, without their identity: "r:<reporter id>".
    respondent: Mapped[str] = mapped_column(String(120))
    # One of the nine IKM elements (persyaratan ... sarana) or "overall".
    element: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)  # 1..4
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitoringCell(Base):
    """One local day, unit, confidentiality and channel: what the figures need of the
    tickets received, the reports and survey answers given and the events recorded
    that day (aggregator/monitoring/cells.py says exactly what)."""

    __tablename__ = "monitoring_cells"
    # By day, covering the counts: a year of sums never reads the packed arrays.
    __table_args__ = (Index("ix_monitoring_cells_day", "day", "channel", "unit",
                            "confidential", "tickets", "reports", "open", "resolved", "frm",
                            "frb", "rsm", "rsb", "served", "respondents"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[int] = mapped_column(Integer)  # local days since 1970-01-01
    unit: Mapped[str | None] = mapped_column(String(100))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(64), default="")
    # Tickets received that day (their first report's channel) ...
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    open: Mapped[int] = mapped_column(Integer, default=0)  # ... still open
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    frm: Mapped[int] = mapped_column(Integer, default=0)  # first-response deadline met
    frb: Mapped[int] = mapped_column(Integer, default=0)  # ... missed
    rsm: Mapped[int] = mapped_column(Integer, default=0)  # resolution deadline met
    rsb: Mapped[int] = mapped_column(Integer, default=0)  # ... missed
    kinds: Mapped[bytes | None] = mapped_column(LargeBinary)  # int32 per kind
    states: Mapped[bytes | None] = mapped_column(LargeBinary)  # int32 per open state
    fr: Mapped[bytes | None] = mapped_column(LargeBinary)  # float64 s to first response
    rs: Mapped[bytes | None] = mapped_column(LargeBinary)  # float64 s to resolution
    frd: Mapped[bytes | None] = mapped_column(LargeBinary)  # float64 due, not decided yet
    rsd: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Reports received that day (their own channel), int32 per kind.
    reports: Mapped[int] = mapped_column(Integer, default=0)
    report_kinds: Mapped[bytes | None] = mapped_column(LargeBinary)
    served: Mapped[int] = mapped_column(Integer, default=0)  # reporters of tickets resolved
    respondents: Mapped[int] = mapped_column(Integer, default=0)
    survey: Mapped[bytes | None] = mapped_column(LargeBinary)  # int32 [element][score]
    top: Mapped[bytes | None] = mapped_column(LargeBinary)  # int64 [reports, ticket id]
    # Rare things: escalations, viral starts, reopenings (SQL NULL when none).
    extra: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)


class MonitoringPlace(Base):
    """Named places in the reports of one cell (day, unit, channel; never confidential):
    how many reports named each."""

    __tablename__ = "monitoring_places"
    __table_args__ = (Index("ix_monitoring_places_day", "day", "place", "reports", "unit",
                            "channel"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(64), default="")
    place: Mapped[str] = mapped_column(String(200))
    reports: Mapped[int] = mapped_column(Integer, default=0)


class MonitoringRollup(Base):
    """Where rebuilding the cells stands: the moment changes were last looked for, and
    the calendar (and cell format) the cells were built under."""

    __tablename__ = "monitoring_rollup"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Period reads: tickets received, reports received, events of one type in a period.
Index("ix_tickets_created", Ticket.created_at)
Index("ix_tickets_resolved", Ticket.resolved_at)
Index("ix_reports_received", Report.received_at)
Index("ix_ticket_events_type_at", TicketEvent.type, TicketEvent.at)
