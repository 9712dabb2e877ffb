"""Tables the runtime lends to parts of the service: connector-owned records and leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import JSONType, UTCDateTime, utcnow


class ConnectorRecord(Base):
    """A connector's own durable state beyond its cursor (a question the Telegram bot
    is waiting on, a message held until the user chooses a ticket...), keyed by
    (connector, kind, key). Connectors reach it only through their port, so a new
    channel needs no table of its own and no edit of the core models."""

    __tablename__ = "connector_records"
    __table_args__ = (
        UniqueConstraint("connector", "kind", "key"),
        Index("ix_connector_records_age", "connector", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(256))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Lease(Base):
    """Who runs a single-instance job (or drives a connector) right now. A holder
    renews before `expires_at`; anyone may take an expired lease."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """A failed sign-in, under "user:NAME" and "client:ADDRESS" (two rows). Counted in
    the database so every replica throttles on the same failures."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),
                      Index("ix_login_failures_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
