"""What the service owes the outside world, one dataclass per kind of message.

Staff actions and the pipeline build these; `aggregator.delivery.queue` writes them to
the outbox in the caller's transaction; the outbox sender hands each to its channel as
an `OutboundMessage` whose `body` is one of these again. A channel matches on the type
and ignores kinds it does not carry (`SendResult(skipped=True)`).

The stored payload keys are a wire format (rows queued by an older version are sent
by a newer one): change them only with a migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from aggregator.domain import Author


@dataclass(frozen=True, slots=True)
class Ack:
    """"We have your report: ticket X." `reason` is how it was matched (new, reply,
    ticket_ref, same_reporter, near_duplicate) or merged / split by staff."""

    kind: ClassVar[str] = "ack"
    report_external_id: str
    new_ticket: bool
    reason: str

    def payload(self) -> dict[str, Any]:
        return {"report_external_id": self.report_external_id, "new_ticket": self.new_ticket,
                "reason": self.reason}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Ack:
        return cls(str(p.get("report_external_id") or ""), bool(p.get("new_ticket", True)),
                   str(p.get("reason") or "new"))


@dataclass(frozen=True, slots=True)
class Reply:
    """A staff answer. `report_external_ids`: this recipient's reports on the ticket,
    newest first (channels thread the answer under them)."""

    kind: ClassVar[str] = "reply"
    text: str
    staff: str
    report_external_ids: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "staff": self.staff,
                "report_external_ids": list(self.report_external_ids)}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Reply:
        return cls(str(p.get("text") or ""), str(p.get("staff") or ""), _ids(p))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The ticket moved from one state to another (resolved: the survey follows)."""

    kind: ClassVar[str] = "status"
    before: str
    after: str
    report_external_ids: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after,
                "report_external_ids": list(self.report_external_ids)}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> StatusChange:
        return cls(str(p.get("from") or ""), str(p.get("to") or ""), _ids(p))


@dataclass(frozen=True, slots=True)
class StaffNotice:
    """A notification to staff (a duty group, an address), not to a reporter: why it
    was sent, and where to look. `target` is the channel's address for it."""

    kind: ClassVar[str] = "notify"
    target: str
    subject: str
    text: str
    url: str | None = None

    def payload(self) -> dict[str, Any]:
        return {"target": self.target, "subject": self.subject, "text": self.text,
                "url": self.url}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> StaffNotice:
        url = p.get("url")
        return cls(str(p.get("target") or ""), str(p.get("subject") or ""),
                   str(p.get("text") or ""), str(url) if url else None)


MessageBody = Ack | Reply | StatusChange | StaffNotice
KINDS: dict[str, type[Ack] | type[Reply] | type[StatusChange] | type[StaffNotice]] = {
    cls.kind: cls for cls in (Ack, Reply, StatusChange, StaffNotice)
}


class UnknownKind(ValueError):
    pass


def parse_body(kind: str, payload: Mapping[str, Any]) -> MessageBody:
    try:
        cls = KINDS[kind]
    except KeyError:
        raise UnknownKind(f"unknown outbound message kind {kind!r}") from None
    return cls.from_payload(payload)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One outbox row, handed to the connector that owns its source."""

    id: int
    source: str
    body: MessageBody
    ticket_number: str | None = None
    ticket_state: str | None = None  # the ticket's state when the row was claimed
    recipient: Author | None = None
    attempts: int = 0
    created_at: datetime | None = None  # when it was queued: stable across retries
    # On a "resolved" status change: where this recipient answers the satisfaction
    # survey (a signed link to a one-page form), when a feature offers one.
    survey_url: str | None = None

    @property
    def kind(self) -> str:
        return self.body.kind

    @property
    def reporter_handle(self) -> str | None:
        return self.recipient.handle if self.recipient else None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to an outbound message. Raise instead to have it retried."""

    external_id: str | None = None  # the id the channel gave it (Message-ID, tweet id)
    skipped: bool = False  # the channel does not carry this kind of message
    retry_after: float | None = None  # the channel asked us to wait (rate limit)


class Sender(Protocol):
    """Anything the outbox can hand a message to: a connector, a notification sender."""

    async def send(self, message: OutboundMessage) -> SendResult: ...


def _ids(p: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(i) for i in p.get("report_external_ids") or ())
