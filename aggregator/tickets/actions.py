"""Staff actions on tickets. Each one changes the ticket, writes the audit event and
queues what the reporters must hear, in the caller's single transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.delivery.queue import Recipient, queue_to_reporters, recipients
from aggregator.domain import TRANSITIONS, Priority, TicketState
from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from aggregator.messages import Reply, StatusChange
from aggregator.tickets.rules import pause_or_resume, reprioritised
from storage.models import Ticket, TicketEvent
from storage.types import utcnow

# A retried reply is recognised among the ticket's latest replies.
REPLAY_WINDOW = 200


class ActionError(Exception):
    """A staff action that cannot be done; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, error: str, detail: str):
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def parse_priority(value: Any) -> Priority:
    if isinstance(value, str) and value.upper() in Priority.__members__:
        return Priority[value.upper()]
    raise ActionError(422, "invalid", "priority must be one of low, normal, high, urgent")


async def change_state(
    session: AsyncSession, ticket: Ticket, new: str, actor: str, why: str | None = None,
    settings: Settings | None = None,
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
    if settings is not None:
        pause_or_resume(settings, ticket, current, target, now)
    ticket.state = target
    ticket.updated_at = now
    if target == TicketState.RESOLVED:
        ticket.resolved_at = now
    elif target in (TicketState.IN_PROGRESS, TicketState.WAITING):
        ticket.resolved_at = None
    await record_events(session, [Event(
        ticket.id, EventType.STATE_CHANGED, actor,
        {"from": current.value, "to": target.value, "why": why},
    )])
    await queue_to_reporters(session, ticket.id, lambda r: StatusChange(
        current.value, target.value, r.report_external_ids[:20]))


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
    events: list[Event] = []
    changed = {"assignee": EventType.ASSIGNEE_CHANGED, "unit": EventType.UNIT_CHANGED}
    for field, event_type in changed.items():
        if field in patch:
            value = patch[field]
            if value is not None and (not isinstance(value, str) or len(value) > 100):
                raise ActionError(422, "invalid", f"{field} must be a string (<= 100) or null")
            value = value.strip() or None if isinstance(value, str) else None
            old = getattr(ticket, field)
            if old != value:
                setattr(ticket, field, value)
                ticket.updated_at = utcnow()
                events.append(Event(ticket.id, event_type, actor, {"from": old, "to": value}))
    if "priority" in patch:
        prio = parse_priority(patch["priority"])
        old_prio = Priority(ticket.priority)
        if old_prio != prio:
            reprioritised(settings, ticket, prio)
            ticket.updated_at = utcnow()
            events.append(Event(ticket.id, EventType.PRIORITY_CHANGED, actor,
                                {"from": old_prio.name.lower(), "to": prio.name.lower()}))
    await record_events(session, events)
    if "state" in patch:
        if not isinstance(patch["state"], str):
            raise ActionError(422, "invalid", "state must be a string")
        await change_state(session, ticket, patch["state"], actor, settings=settings)


async def add_reply(session: AsyncSession, ticket: Ticket, text: Any, actor: str,
                    staff_name: str, *, report_id: Any = None, everyone: Any = None,
                    idempotency_key: str | None = None) -> int:
    """Record a staff reply and queue it; returns messages queued.

    It goes to the reporter of `report_id` when given, else to every reporter of the
    ticket; on a confidential ticket, to the reporter of its latest report unless staff
    explicitly choose `everyone` (two whistleblowers on one case need not know each
    other). With an `idempotency_key` already used for a reply on this ticket nothing
    is recorded again and the first answer's count is returned: a client that lost the
    answer (a timeout, a restart) sends again without replying twice. The caller holds
    the ticket's row lock, so two such retries cannot both pass the check."""
    if idempotency_key is not None:
        earlier = await _reply_with_key(session, ticket.id, idempotency_key)
        if earlier is not None:
            return int(earlier.get("queued", 0))
    if not isinstance(text, str) or not text.strip():
        raise ActionError(422, "invalid", "text must be a non-empty string")
    if len(text) > 20_000:
        raise ActionError(413, "too_large", "a reply is limited to 20000 characters")
    to = await _addressees(session, ticket, report_id, everyone)
    now = utcnow()
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    queued = await queue_to_reporters(
        session, ticket.id, lambda r: Reply(text, staff_name, r.report_external_ids[:20]),
        only=to)
    data: dict[str, Any] = {
        "text": text, "to": [{"source": r.source, "reporter_id": r.reporter_id} for r in to]}
    if idempotency_key is not None:
        data.update(idempotency_key=idempotency_key, queued=queued)
    await record_events(session, [Event(ticket.id, EventType.REPLY, actor, data)])
    if ticket.state == TicketState.NEW:
        await change_state(session, ticket, TicketState.IN_PROGRESS, actor, "staff replied")
    return queued


async def _reply_with_key(session: AsyncSession, ticket_id: int, key: str
                          ) -> dict[str, Any] | None:
    """The data of this ticket's reply sent with `key`, among its recent replies."""
    rows = await session.execute(
        select(TicketEvent.data)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.type == str(EventType.REPLY))
        .order_by(TicketEvent.id.desc()).limit(REPLAY_WINDOW))
    return next((d for (d,) in rows if (d or {}).get("idempotency_key") == key), None)


async def add_note(session: AsyncSession, ticket: Ticket, text: Any, actor: str) -> Event:
    """An internal note: one audit event, no message to anyone, and no effect on the
    first-response clock (the reporter heard nothing)."""
    if not isinstance(text, str) or not text.strip():
        raise ActionError(422, "invalid", "text must be a non-empty string")
    if len(text) > 20_000:
        raise ActionError(413, "too_large", "a note is limited to 20000 characters")
    now = utcnow()
    ticket.updated_at = now
    event = Event(ticket.id, EventType.NOTE, actor, {"text": text}, at=now)
    await record_events(session, [event])
    return event


async def _addressees(session: AsyncSession, ticket: Ticket, report_id: Any, everyone: Any
                      ) -> list[Recipient]:
    if everyone is not None and not isinstance(everyone, bool):
        raise ActionError(422, "invalid", "everyone must be true or false")
    if report_id is not None:
        if isinstance(report_id, bool) or not isinstance(report_id, int):
            raise ActionError(422, "invalid", "report_id must be a number")
        found = await recipients(session, ticket.id, report_ids=[report_id])
        if not found:
            raise ActionError(422, "invalid", f"report {report_id} is not on {ticket.number}")
        return found
    found = await recipients(session, ticket.id)
    if ticket.confidential and not everyone:
        return found[:1]  # newest report first
    return found
