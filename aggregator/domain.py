"""The vocabulary every part shares: what a connector hands in, what it gets back.

Plain dataclasses, no I/O: connectors build these, the pipeline consumes them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TicketState(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # waiting on the reporter
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATES = frozenset({TicketState.NEW, TicketState.IN_PROGRESS, TicketState.WAITING})

# Who may move a ticket where. Closed is final except that staff may reopen.
TRANSITIONS: dict[TicketState, frozenset[TicketState]] = {
    TicketState.NEW: frozenset(
        {TicketState.IN_PROGRESS, TicketState.WAITING, TicketState.RESOLVED, TicketState.CLOSED}
    ),
    TicketState.IN_PROGRESS: frozenset(
        {TicketState.WAITING, TicketState.RESOLVED, TicketState.CLOSED}
    ),
    TicketState.WAITING: frozenset(
        {TicketState.IN_PROGRESS, TicketState.RESOLVED, TicketState.CLOSED}
    ),
    TicketState.RESOLVED: frozenset({TicketState.IN_PROGRESS, TicketState.CLOSED}),
    TicketState.CLOSED: frozenset({TicketState.IN_PROGRESS}),
}


class Priority(enum.IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


class ReportKind(enum.StrEnum):
    """How LAPOR! classes what it receives."""

    COMPLAINT = "complaint"  # pengaduan
    ASPIRATION = "aspiration"  # aspirasi
    INFORMATION_REQUEST = "information_request"  # permintaan informasi
    WHISTLEBLOWING = "whistleblowing"  # WBS, always confidential


# The satisfaction survey (IKM, PermenPANRB 14/2017): its nine service elements in the
# regulation's order, and the one-question rating a chat channel asks instead. These
# names are stored in `survey_answers.element`: a data contract, like event types.
IKM_ELEMENTS: tuple[str, ...] = (
    "persyaratan", "prosedur", "waktu", "biaya", "produk", "kompetensi", "perilaku",
    "pengaduan", "sarana",
)
OVERALL_RATING = "overall"
SURVEY_ELEMENTS = frozenset((*IKM_ELEMENTS, OVERALL_RATING))


class Role(enum.IntEnum):
    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class Author:
    """The sender as the source knows them. `handle` is the stable per-source key
    (an email address, a Telegram user id, an X user id, a phone number)."""

    handle: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a report. `data` is None when the connector kept only the
    metadata (over its size caps, or the source keeps the file: then `url`)."""

    filename: str | None
    content_type: str | None
    size: int
    sha256: str | None = None
    data: bytes | None = None
    url: str | None = None
    note: str | None = None  # why the bytes are missing


@dataclass(slots=True)
class Report:
    """One inbound message, as a connector hands it to ingest.

    `source` is the connector's configured name (it routes replies back);
    `channel` is what staff see (email, telegram, twitter, sms-1708, ...).
    """

    source: str
    channel: str
    external_id: str
    text: str
    author: Author = field(default_factory=Author)
    title: str | None = None
    body: str | None = None  # the full original text when `text` was trimmed
    sent_at: datetime | None = None
    kind: ReportKind = ReportKind.COMPLAINT
    confidential: bool = False
    # External ids (same source) of earlier messages this one answers: email
    # In-Reply-To/References, X conversation root, a webhook's thread_id.
    reply_to: tuple[str, ...] = ()
    # A ticket number the sender named ("[ADU-2026-000001]" in a subject, a bot choice).
    ticket_ref: str | None = None
    # Ask for an acknowledgement through this source's outbox once committed.
    ack: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    # Stored in the same transaction as the report (only when the report is new).
    attachments: tuple[Attachment, ...] = ()

    @property
    def sealed(self) -> bool:
        """Confidential: a whistleblowing report, or one its sender marked so. Sealed and
        open reports never share a ticket (see intake.pipeline)."""
        return self.confidential or self.kind == ReportKind.WHISTLEBLOWING


@dataclass(frozen=True, slots=True)
class IngestResult:
    report_id: int
    ticket_id: int
    ticket_number: str
    created_report: bool  # False: this (source, external_id) was already stored
    created_ticket: bool
    match_reason: str  # new | reply | ticket_ref | same_reporter | near_duplicate | existing
