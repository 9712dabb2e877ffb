"""Tables of near-duplicate detection (aggregator/dedup).

`dedup_keys` is the shared, persistent candidate index: MinHash LSH band keys plus
place, location and contact keys, as 64-bit hashes. Its primary key (key, at,
report_id) is the one index a lookup needs (`key IN (...) AND at >= ...`, covering),
on SQLite and PostgreSQL alike, so it survives restarts and every replica sees it.
A key row names a report, not a ticket: merges and splits move reports between
tickets and the index follows without being rewritten.

`dedup_docs` keeps each report's signature, so candidates are verified without
re-normalising their text. `dedup_apart` remembers what staff split apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import UTCDateTime, utcnow


class DedupKey(Base):
    __tablename__ = "dedup_keys"
    # SQLite: the primary key is the table (no separate rowid b-tree to keep).
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False,
    )


class DedupDoc(Base):
    __tablename__ = "dedup_docs"

    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False,
    )
    topic: Mapped[str] = mapped_column(Text, default="")  # stems, space separated
    names: Mapped[str] = mapped_column(Text, default="")
    weak: Mapped[str] = mapped_column(Text, default="")
    places: Mapped[str] = mapped_column(Text, default="")  # "kind:name words|..."
    ids: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    contact: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DedupApart(Base):
    """Staff split this report out of this ticket: the matcher must not fold reports
    like it back into that ticket."""

    __tablename__ = "dedup_apart"
    __table_args__ = (Index("ix_dedup_apart_report", "report_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reports.id", ondelete="CASCADE")
    )
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id"))
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
