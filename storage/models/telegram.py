"""Conversation state the Telegram bot must keep across restarts.

A question the bot asked and is waiting on: "which of your open tickets is this
message about?" (kind `followup`, holding the message until the user chooses) or
"any comment on your rating?" (kind `comment`, keyed by the prompt's message id).
Kept in the database because a message held here was already taken from Telegram:
losing it on a restart would lose a complaint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId
from storage.types import JSONType, UTCDateTime, utcnow


class TelegramPending(Base):
    __tablename__ = "telegram_pending"
    __table_args__ = (
        UniqueConstraint("source", "chat_id", "kind", "ref"),
        Index("ix_telegram_pending_due", "source", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # followup | comment
    # followup: the held message's external id; comment: the prompt's message id.
    ref: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
