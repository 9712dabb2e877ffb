"""Staff look at what could not be delivered, and send it again.

A message whose attempts ran out is `dead`: it no longer holds up its recipient's
later messages, and it waits here until someone retries it (after fixing an address,
a token, an upstream) or leaves it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from storage.models import Outbox, Ticket
from storage.types import utcnow

STATES = ("pending", "sent", "skipped", "dead")


class NotRetryable(LookupError):
    pass


async def messages(session: AsyncSession, state: str = "dead", limit: int = 100
                   ) -> list[dict[str, Any]]:
    """Outbox rows in one state, newest first, as plain data."""
    rows = await session.execute(
        select(Outbox, Ticket.number)
        .outerjoin(Ticket, Ticket.id == Outbox.ticket_id)
        .where(Outbox.state == state)
        .order_by(Outbox.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [
        {"id": o.id, "source": o.source, "kind": o.kind, "ticket": number,
         "recipient": o.recipient, "state": o.state, "attempts": o.attempts,
         "last_error": o.last_error, "created_at": o.created_at.isoformat(),
         "next_attempt_at": o.next_attempt_at.isoformat()}
        for o, number in rows
    ]


async def retry(session: AsyncSession, outbox_id: int, actor: str) -> None:
    """Put a dead message back in the queue with fresh attempts."""
    row = await session.get(Outbox, outbox_id, with_for_update=True)
    if row is None or row.state != "dead":
        raise NotRetryable(f"no dead message {outbox_id}")
    await session.execute(
        update(Outbox).where(Outbox.id == outbox_id).values(
            state="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
    )
    if row.ticket_id is not None:
        await record_events(session, [Event(row.ticket_id, EventType.DELIVERY_RETRIED, actor,
                                             {"outbox_id": outbox_id, "kind": row.kind})])
