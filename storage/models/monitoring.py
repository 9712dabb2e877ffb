"""Tables and indexes of monitoring and evaluation (aggregator/monitoring).

`survey_answers` keeps every answer to the satisfaction survey (IKM): one row per
element answered, never overwritten, so a second answer by the same person is a new
row and the figures choose (the latest per person, ticket and element).
The indexes let period figures read a month out of years of tickets without a scan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.models.core import Report, Ticket, TicketEvent
from storage.types import UTCDateTime, utcnow


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


# Period reads: tickets received, reports received, events of one type in a period.
Index("ix_tickets_created", Ticket.created_at)
Index("ix_reports_received", Report.received_at)
Index("ix_ticket_events_type_at", TicketEvent.type, TicketEvent.at)
