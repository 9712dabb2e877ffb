"""All tables. Each area keeps its tables in its own module; import them here so
Alembic and `create_all` see one metadata."""

from storage.models.attachments import Attachment
from storage.models.base import Base
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
from storage.models.dedup import DedupApart, DedupDoc, DedupKey
from storage.models.monitoring import (
    MonitoringCell,
    MonitoringPlace,
    MonitoringRollup,
    SurveyAnswer,
)
from storage.models.runtime import ConnectorRecord, Lease, LoginFailure
from storage.models.signals import EngagementSample
from storage.models.watch import Escalation, Virality
from storage.models.webui import Unit, WebSession

__all__ = [
    "ApiToken",
    "Attachment",
    "Base",
    "ConnectorRecord",
    "ConnectorState",
    "DedupApart",
    "DedupDoc",
    "DedupKey",
    "EngagementSample",
    "Escalation",
    "Lease",
    "LoginFailure",
    "MonitoringCell",
    "MonitoringPlace",
    "MonitoringRollup",
    "Outbox",
    "Report",
    "Reporter",
    "SurveyAnswer",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "Unit",
    "User",
    "Virality",
    "WebSession",
]
