"""All tables. Each area keeps its tables in its own module; import them here so
Alembic and `create_all` see one metadata."""

from storage.models.attachments import Attachment
from storage.models.base import Base
from storage.models.dedup import DedupApart, DedupDoc, DedupKey
from storage.models.core import (
    ApiToken,
    ConnectorState,
    Outbox,
    Report,
    Reporter,
    Ticket,
    TicketCounter,
    TicketEvent,
    User,
)
from storage.models.signals import EngagementSample
from storage.models.telegram import TelegramPending

__all__ = [
    "ApiToken",
    "Attachment",
    "Base",
    "ConnectorState",
    "DedupApart",
    "DedupDoc",
    "DedupKey",
    "EngagementSample",
    "Outbox",
    "Report",
    "Reporter",
    "TelegramPending",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "User",
]
