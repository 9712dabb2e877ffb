"""What the email connector writes or reads in the database beside ingest itself.

Attachments are written after the report's commit, with the report id ingest gave
back; bounces become ticket events. Both are idempotent (a batch replayed after a
crash writes nothing twice), which is what lets the IMAP flags be set only after.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.email.parse import Attachment as MailAttachment
from connectors.email.parse import ParsedMail
from storage import repo
from storage.models import Attachment, Outbox, Reporter, Ticket, TicketEvent
from storage.models import Report as ReportRow
from storage.types import utcnow

BOUNCE_EVENTS = ("delivery_failed", "delivery_delayed")


async def store_attachments(
    sessions: async_sessionmaker[AsyncSession],
    items: Sequence[tuple[int, Sequence[MailAttachment]]],
) -> int:
    """Attachment rows for reports that have none yet; returns rows written."""
    items = [(rid, atts) for rid, atts in items if atts]
    if not items:
        return 0
    async with sessions() as session, session.begin():
        have = set((await session.execute(
            select(Attachment.report_id).where(
                Attachment.report_id.in_([rid for rid, _ in items])).distinct()
        )).scalars())
        now = utcnow()
        rows = [
            {"report_id": rid, "filename": a.filename, "content_type": a.content_type,
             "size": a.size, "sha256": a.sha256, "data": a.data, "note": a.note,
             "created_at": now}
            for rid, atts in items if rid not in have for a in atts
        ]
        if rows:
            await session.execute(insert(Attachment), rows)
    return len(rows)


async def record_bounces(
    sessions: async_sessionmaker[AsyncSession], source: str, bounces: Sequence[ParsedMail]
) -> tuple[int, int]:
    """A ticket event per bounce of a mail we sent (matched through the outbox's
    external id). Returns (recorded, unmatched)."""
    recorded = unmatched = 0
    async with sessions() as session, session.begin():
        for mail in bounces:
            info = mail.bounce
            ids = info.original_ids if info else []
            row = None
            if ids:
                row = (await session.execute(
                    select(Outbox.id, Outbox.ticket_id, Outbox.kind, Outbox.external_id)
                    .where(Outbox.source == source, Outbox.external_id.in_(ids[:50]),
                           Outbox.ticket_id.is_not(None))
                    .order_by(Outbox.id.desc()).limit(1)
                )).first()
            if row is None or info is None:
                unmatched += 1
                continue
            outbox_id, ticket_id, kind, original = row
            if await _already(session, ticket_id, mail.external_id):
                continue
            await repo.add_event(
                session, ticket_id, f"connector:{source}",
                "delivery_delayed" if info.action == "delayed" else "delivery_failed",
                {"bounce_id": mail.external_id, "message_id": original,
                 "outbox_id": outbox_id, "kind": kind, "recipients": info.recipients[:10],
                 "status": info.status, "diagnostic": info.diagnostic,
                 "subject": mail.subject},
            )
            recorded += 1
    return recorded, unmatched


async def _already(session: AsyncSession, ticket_id: int, bounce_id: str) -> bool:
    rows = (await session.execute(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket_id,
                                       TicketEvent.type.in_(BOUNCE_EVENTS))
    )).scalars()
    return any((d or {}).get("bounce_id") == bounce_id for d in rows)


async def thread_info(
    sessions: async_sessionmaker[AsyncSession], source: str, ticket_number: str | None,
    external_ids: Sequence[str],
) -> dict[str, Any]:
    """Subject and ids to thread an outgoing mail under the citizen's own mails."""
    ids = [i for i in external_ids if i][:20]
    async with sessions() as session:
        titles: dict[str, str | None] = {}
        if ids:
            for ext, title, meta in await session.execute(
                select(ReportRow.external_id, ReportRow.title, ReportRow.meta)
                .where(ReportRow.source == source, ReportRow.external_id.in_(ids))
            ):
                titles[ext] = title or (meta or {}).get("subject")
        ticket_title = None
        if ticket_number:
            ticket_title = (await session.execute(
                select(Ticket.title).where(Ticket.number == ticket_number)
            )).scalar_one_or_none()
    known = [i for i in ids if i in titles]
    subject = next((titles[i] for i in known if titles[i]), None) or ticket_title or ""
    return {"subject": subject, "ids": known}


async def acks_sent_last_hour(
    sessions: async_sessionmaker[AsyncSession], source: str
) -> dict[str, int]:
    """Acknowledgements sent per recipient handle in the last hour, in one query:
    read once at start so a restart does not reset the per-sender guard."""
    since = utcnow() - timedelta(hours=1)
    async with sessions() as session:
        rows = await session.execute(
            select(Reporter.handle, func.count())
            .select_from(Outbox)
            .join(Reporter, Reporter.id == Outbox.reporter_id)
            .where(Outbox.source == source, Outbox.kind == "ack",
                   Outbox.state == "sent", Outbox.sent_at >= since)
            .group_by(Reporter.handle)
        )
        return {str(handle).lower(): int(n) for handle, n in rows}
