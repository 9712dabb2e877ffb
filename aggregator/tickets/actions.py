"""Staff actions on tickets. Each one changes the ticket, writes the audit event and
queues what the reporters must hear, in the caller's single transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.domain import TRANSITIONS, Priority, TicketState
from aggregator.intake.pipeline import sla_hours
from storage import repo
from storage.models import Outbox, Ticket
from storage.models import Report as ReportRow
from storage.types import utcnow


class ActionError(Exception):
    """A staff action that cannot be done; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


@dataclass(frozen=True)
class Recipient:
    source: str
    channel: str
    reporter_id: int | None
    report_external_ids: list[str]


async def recipients(session: AsyncSession, ticket_id: int) -> list[Recipient]:
    """Everyone who reported on the ticket, once per (source, reporter)."""
    rows = await session.execute(
        select(ReportRow.source, ReportRow.channel, ReportRow.reporter_id,
               ReportRow.external_id)
        .where(ReportRow.ticket_id == ticket_id)
        .order_by(ReportRow.id.desc())
    )
    groups: dict[tuple[str, int | None], Recipient] = {}
    for source, channel, reporter_id, external_id in rows:
        key = (source, reporter_id)
        if key not in groups:
            groups[key] = Recipient(source, channel, reporter_id, [])
        groups[key].report_external_ids.append(external_id)
    return list(groups.values())


async def notify_reporters(
    session: AsyncSession, ticket: Ticket, kind: str, payload: dict[str, Any]
) -> int:
    """One outbox row per (source, reporter) of the ticket; returns how many."""
    now = utcnow()
    rows = [
        {
            "source": r.source, "kind": kind, "ticket_id": ticket.id,
            "reporter_id": r.reporter_id, "state": "pending", "attempts": 0,
            "next_attempt_at": now, "created_at": now,
            "payload": {**payload, "ticket_number": ticket.number, "channel": r.channel,
                        "report_external_ids": r.report_external_ids[:20]},
        }
        for r in await recipients(session, ticket.id)
    ]
    if rows:
        await session.execute(insert(Outbox), rows)
    return len(rows)


def parse_priority(value: Any) -> Priority:
    if isinstance(value, str) and value.upper() in Priority.__members__:
        return Priority[value.upper()]
    raise ActionError(422, "invalid", "priority must be one of low, normal, high, urgent")


async def change_state(
    session: AsyncSession, ticket: Ticket, new: str, actor: str, why: str | None = None
) -> None:
    try:
        target = TicketState(new)
    except ValueError:
        names = ", ".join(s.value for s in TicketState)
        raise ActionError(422, "invalid", f"state must be one of {names}") from None
    current = TicketState(ticket.state)
    if target == current:
        return
    if ticket.merged_into_id is not None:
        raise ActionError(409, "conflict", "ticket was merged into another ticket")
    if target not in TRANSITIONS[current]:
        raise ActionError(409, "conflict", f"cannot move a {current} ticket to {target}")
    now = utcnow()
    ticket.state = target
    ticket.updated_at = now
    if target == TicketState.RESOLVED:
        ticket.resolved_at = now
    elif target in (TicketState.IN_PROGRESS, TicketState.WAITING):
        ticket.resolved_at = None
    await repo.add_event(session, ticket.id, actor, "state_changed",
                         {"from": current.value, "to": target.value, "why": why})
    await notify_reporters(session, ticket, "status",
                           {"from": current.value, "to": target.value})


async def apply_patch(
    session: AsyncSession, settings: Settings, ticket: Ticket, patch: dict[str, Any], actor: str
) -> None:
    """PATCH semantics: only the keys given change; each change is one audit event."""
    allowed = {"state", "priority", "assignee", "unit"}
    unknown = set(patch) - allowed
    if unknown:
        raise ActionError(422, "invalid", f"unknown field(s): {', '.join(sorted(unknown))}")
    if not patch:
        raise ActionError(422, "invalid", "nothing to change")
    for field in ("assignee", "unit"):
        if field in patch:
            value = patch[field]
            if value is not None and (not isinstance(value, str) or len(value) > 100):
                raise ActionError(422, "invalid", f"{field} must be a string (<= 100) or null")
            value = value.strip() or None if isinstance(value, str) else None
            old = getattr(ticket, field)
            if old != value:
                setattr(ticket, field, value)
                ticket.updated_at = utcnow()
                await repo.add_event(session, ticket.id, actor, f"{field}_changed",
                                     {"from": old, "to": value})
    if "priority" in patch:
        prio = parse_priority(patch["priority"])
        old = Priority(ticket.priority)
        if old != prio:
            ticket.priority = int(prio)
            ticket.sla_due_at = ticket.created_at + timedelta(hours=sla_hours(settings, prio))
            ticket.updated_at = utcnow()
            await repo.add_event(session, ticket.id, actor, "priority_changed",
                                 {"from": old.name.lower(), "to": prio.name.lower()})
    if "state" in patch:
        if not isinstance(patch["state"], str):
            raise ActionError(422, "invalid", "state must be a string")
        await change_state(session, ticket, patch["state"], actor)


async def add_reply(session: AsyncSession, ticket: Ticket, text: Any, actor: str,
                    staff_name: str) -> int:
    """Record a staff reply and queue it to every reporter; returns messages queued."""
    if not isinstance(text, str) or not text.strip():
        raise ActionError(422, "invalid", "text must be a non-empty string")
    if len(text) > 20_000:
        raise ActionError(413, "too_large", "a reply is limited to 20000 characters")
    now = utcnow()
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    await repo.add_event(session, ticket.id, actor, "reply", {"text": text})
    queued = await notify_reporters(session, ticket, "reply", {"text": text, "staff": staff_name})
    if ticket.state == TicketState.NEW:
        await change_state(session, ticket, TicketState.IN_PROGRESS, actor, "staff replied")
    return queued


def ticket_summary(ticket: Ticket, channels: Sequence[str]) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "state": ticket.state,
        "priority": Priority(ticket.priority).name.lower(),
        "kind": ticket.kind,
        "unit": ticket.unit,
        "assignee": ticket.assignee,
        "channels": sorted(set(channels)),
        "report_count": ticket.report_count,
        "confidential": ticket.confidential,
        "escalation_level": ticket.escalation_level,
        "virality_score": ticket.virality_score,
        "satisfaction": ticket.satisfaction,
        "merged_into": None,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "sla_due_at": iso(ticket.sla_due_at),
        "first_response_at": iso(ticket.first_response_at),
        "resolved_at": iso(ticket.resolved_at),
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
