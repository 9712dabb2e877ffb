"""Tables of the staff web UI: signed-in browser sessions and the agency's units.

Report search has no model here: it is dialect-specific and lives in migration 0006
(SQLite: the FTS5 table `reports_fts` kept by triggers; PostgreSQL: the generated
`reports.search` tsvector with a GIN index); `aggregator.tickets.search` queries it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import UTCDateTime, utcnow


class WebSession(Base):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is
    stored, so a copy of the database does not let anyone sign in."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Unit(Base):
    """A unit (bidang, seksi, poli) tickets are routed to. Tickets and users name units
    by `name`; this table lists the known ones for pickers and admin pages."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
