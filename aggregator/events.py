"""The audit log's vocabulary: every change to a ticket is one `Event` of one `EventType`.

The log is an interface, not a debug trace: the ticket timeline, monitoring reports and
exports read it, so a type is only added here (and listed in the README), never spelled
as a string elsewhere. `data` keys are part of the contract too; each type's comment
names the keys it carries.
"""

from __future__ import annotations

import enum
import getpass
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TicketEvent
from storage.types import utcnow


class EventType(enum.StrEnum):
    CREATED = "created"  # report_id, channel, reason
    REPORT_ADDED = "report_added"  # report_id, channel, reason (+ score, detail)
    STATE_CHANGED = "state_changed"  # from, to, why
    PRIORITY_CHANGED = "priority_changed"  # from, to
    ASSIGNEE_CHANGED = "assignee_changed"  # from, to
    UNIT_CHANGED = "unit_changed"  # from, to
    REPLY = "reply"  # text, to (recipients queued)
    NOTE = "note"  # text: an internal note for staff; never sent outside the agency
    MERGED = "merged"  # from, report_ids, reports_moved
    MERGED_INTO = "merged_into"  # into, reports_moved
    REPORT_SPLIT = "report_split"  # report_id, to
    # The problem of an earlier ticket came back after `dedup.recurrence_hours`: this new
    # ticket is its recurrence. ticket (the earlier number), report_id (its report the
    # new one matched), hours (between the two), score
    RECURRENCE_OF = "recurrence_of"
    DELIVERY_FAILED = "delivery_failed"  # outbox_id, kind, channel, error | bounce details
    DELIVERY_DELAYED = "delivery_delayed"  # bounce details
    DELIVERY_RETRIED = "delivery_retried"  # outbox_id (a dead message sent again by staff)
    SURVEY = "survey"  # score, label, channel, source
    SURVEY_COMMENT = "survey_comment"  # text, source
    VIRALITY_CHANGED = "virality_changed"  # from, to (levels), score, stream, evidence
    ESCALATED = "escalated"  # from, to (levels), name, reasons
    NOTIFIED = "notified"  # level, targets, repeat
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"  # level
    SLA_BREACHED = "sla_breached"  # target (first_response | resolution), due
    IDENTITY_VIEWED = "identity_viewed"  # report_ids (a confidential reporter's identity)


@dataclass(frozen=True, slots=True)
class Event:
    """One audit entry. `actor` says who: see the `*_actor` helpers."""

    ticket_id: int
    type: EventType
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id, "type": str(self.type), "actor": self.actor,
                "data": dict(self.data), "at": self.at or now}


SYSTEM = "system"


def connector_actor(source: str) -> str:
    return f"connector:{source}"


def reporter_actor(source: str, handle: str) -> str:
    return f"reporter:{source}:{handle}"


def user_actor(name: str) -> str:
    return f"user:{name}"


def cli_actor() -> str:
    """Whoever runs an `aggregator` command on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


async def record(session: AsyncSession, events: Iterable[Event]) -> None:
    """Write events in the caller's transaction (one multi-row INSERT)."""
    now = utcnow()
    rows = [e.row(now) for e in events]
    if rows:
        await session.execute(insert(TicketEvent), rows)
