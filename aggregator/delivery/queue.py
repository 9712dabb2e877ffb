"""The one way to owe the outside world a message: `queue()` in the caller's transaction.

A row commits with the change that caused it (a report, a staff reply), so a crash
can never leave a change without its message or a message without its change. Each row
carries a `recipient` key; the sender keeps one recipient's messages in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.messages import MessageBody
from storage.models import Outbox
from storage.models import Report as ReportRow
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to queue: through which source, to whom, about which ticket."""

    source: str
    body: MessageBody
    ticket_id: int | None = None
    reporter_id: int | None = None
    target: str | None = None  # an address that is not a reporter (a staff group)

    @property
    def recipient(self) -> str:
        """The ordering key: one recipient's messages are delivered in queue order."""
        if self.reporter_id is not None:
            return f"r:{self.reporter_id}"
        if self.target:
            return f"n:{self.target}"[:200]
        return f"t:{self.ticket_id}"


def outbox_row(item: Outgoing, now: datetime) -> dict[str, object]:
    return {
        "source": item.source, "kind": item.body.kind, "ticket_id": item.ticket_id,
        "reporter_id": item.reporter_id, "recipient": item.recipient, "state": "pending",
        "attempts": 0, "next_attempt_at": now, "created_at": now,
        "payload": item.body.payload(),
    }


async def queue(session: AsyncSession, items: Iterable[Outgoing]) -> int:
    """Write the messages (one multi-row INSERT); returns how many."""
    now = utcnow()
    rows = [outbox_row(item, now) for item in items]
    if rows:
        await session.execute(insert(Outbox), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone who reported on a ticket, as one source knows them."""

    source: str
    channel: str
    reporter_id: int | None
    report_external_ids: tuple[str, ...]  # newest first


async def recipients(
    session: AsyncSession, ticket_id: int, *, report_ids: Iterable[int] | None = None
) -> list[Recipient]:
    """Everyone who reported on the ticket (or on the given reports of it), once per
    (source, reporter)."""
    stmt = (
        select(ReportRow.source, ReportRow.channel, ReportRow.reporter_id,
               ReportRow.external_id)
        .where(ReportRow.ticket_id == ticket_id)
        .order_by(ReportRow.id.desc())
    )
    if report_ids is not None:
        stmt = stmt.where(ReportRow.id.in_(list(report_ids) or [-1]))
    groups: dict[tuple[str, int | None], tuple[str, list[str]]] = {}
    for source, channel, reporter_id, external_id in await session.execute(stmt):
        groups.setdefault((source, reporter_id), (channel, []))[1].append(external_id)
    return [Recipient(source, channel, reporter_id, tuple(ids))
            for (source, reporter_id), (channel, ids) in groups.items()]


async def queue_to_reporters(
    session: AsyncSession, ticket_id: int, make: Callable[[Recipient], MessageBody | None],
    *, only: Iterable[Recipient] | None = None,
) -> int:
    """One message per reporter of the ticket (or per given recipient); `make` builds
    each one's body, or None to leave that one out."""
    found = list(only) if only is not None else await recipients(session, ticket_id)
    items = []
    for r in found:
        body = make(r)
        if body is not None:
            items.append(Outgoing(r.source, body, ticket_id=ticket_id, reporter_id=r.reporter_id))
    return await queue(session, items)
