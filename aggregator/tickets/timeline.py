"""More of the read side for one ticket: its attachments and what was sent about it.

`query.ticket_detail` gives reports and events; a ticket page also shows the files that
came with the reports and every outbound message (acknowledgements, replies, status
news, callbacks) with its delivery state. Plain data, like the rest of the query layer.
The caller has already checked that the principal may see the ticket.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.tickets.query import iso
from storage.models import Attachment, Outbox

MAX_DELIVERIES = 500


async def attachments_of(session: AsyncSession, report_ids: list[int]
                         ) -> dict[int, list[dict[str, Any]]]:
    """Attachment metadata (never the bytes) by report id."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(Attachment.id, Attachment.report_id, Attachment.filename,
               Attachment.content_type, Attachment.size, Attachment.url, Attachment.note,
               Attachment.data.is_not(None))
        .where(Attachment.report_id.in_(report_ids)).order_by(Attachment.id))
    out: dict[int, list[dict[str, Any]]] = {}
    for aid, rid, name, ctype, size, url, note, stored in rows:
        out.setdefault(rid, []).append({
            "id": aid, "filename": name, "content_type": ctype, "size": size,
            "url": url, "note": note, "stored": bool(stored)})
    return out


async def deliveries_of(session: AsyncSession, ticket_id: int, newest: int = MAX_DELIVERIES
                        ) -> list[dict[str, Any]]:
    """The latest outbound messages about the ticket, oldest first (payload text left
    out: replies are on the record as events)."""
    rows = (await session.execute(
        select(Outbox).where(Outbox.ticket_id == ticket_id)
        .order_by(Outbox.id.desc()).limit(newest))).scalars().all()
    return [{"id": o.id, "source": o.source, "kind": o.kind, "state": o.state,
             "reporter_id": o.reporter_id, "attempts": o.attempts,
             "last_error": o.last_error, "created_at": iso(o.created_at),
             "sent_at": iso(o.sent_at)} for o in reversed(rows)]


async def attachment(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)
