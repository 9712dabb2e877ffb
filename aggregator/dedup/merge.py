"""Staff undo for the matcher: merge two tickets, split a report out of its ticket.

Both run in the caller's transaction, write audit events on every ticket they touch
and tell the reporters concerned their (new) ticket number through the outbox (an
"ack" with reason "merged" / "split"). A split is remembered (`dedup_apart`) so the
matcher does not fold reports like the split one back into the ticket it left; a
later staff merge of the two overrides that memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.dedup.features import extract
from aggregator.dedup.keys import index_keys
from aggregator.dedup.store import doc_row
from aggregator.delivery.queue import queue_to_reporters, recipients
from aggregator.domain import OPEN_STATES, Author, Report, TicketState
from aggregator.events import Event, EventType
from aggregator.events import record as record_events
from aggregator.messages import Ack
from aggregator.tickets.actions import ActionError
from aggregator.tickets.rules import make_title
from storage import numbers, repo
from storage.models import DedupApart, DedupDoc, DedupKey, Reporter, Ticket
from storage.models import Report as ReportRow
from storage.types import utcnow


@dataclass(frozen=True)
class MergeResult:
    source: str
    target: str
    moved_reports: int


@dataclass(frozen=True)
class SplitResult:
    report_id: int
    source: str
    ticket: str


async def merge_tickets(
    session: AsyncSession, source_number: str, target_number: str, actor: str
) -> MergeResult:
    """Move every report of `source` onto `target`; `source` is closed and points to
    `target` (links and replies to it keep working)."""
    source = await _ticket(session, source_number)
    target = await repo.resolve_ticket(session, await _ticket(session, target_number))
    assert target is not None
    if source.merged_into_id is not None:
        raise ActionError(409, "conflict", f"{source.number} is already merged")
    if source.id == target.id:
        raise ActionError(409, "conflict", "a ticket cannot be merged into itself")
    if source.confidential != target.confidential:
        # Reporters on one side would receive replies written to the other side.
        raise ActionError(409, "conflict",
                          "a confidential ticket and a non-confidential one cannot be merged")
    return await _move(session, source, target, actor, forget_splits=True)


async def fold_tickets(
    session: AsyncSession, source_id: int, target_id: int, actor: str, why: dict[str, Any]
) -> MergeResult | None:
    """The matcher's merge: one new report matched two reports each of `source` and
    `target` (two fragments of one incident, opened before anything linked them).
    As a staff merge, with `why` (the bridging report, its verdicts) on the `merged`
    event, so staff see why and can split reports back out; unlike a staff merge, a
    staff split is never forgotten, and a ticket staff resolved or closed stays as
    they left it. None when there is nothing to fold (already one ticket, either not
    open, or the two on either side of the confidentiality boundary)."""
    source = await repo.resolve_ticket(session, await session.get(Ticket, source_id))
    target = await repo.resolve_ticket(session, await session.get(Ticket, target_id))
    if source is None or target is None or source.id == target.id or \
            source.confidential != target.confidential or \
            source.state not in OPEN_STATES or target.state not in OPEN_STATES:
        return None
    return await _move(session, source, target, actor, forget_splits=False, why=why)


async def _move(
    session: AsyncSession, source: Ticket, target: Ticket, actor: str, *,
    forget_splits: bool, why: dict[str, Any] | None = None,
) -> MergeResult:
    await _lock(session, source.id, target.id)
    now = utcnow()
    report_ids = list((await session.execute(
        select(ReportRow.id).where(ReportRow.ticket_id == source.id).order_by(ReportRow.id)
    )).scalars())
    await session.execute(
        update(ReportRow).where(ReportRow.ticket_id == source.id).values(ticket_id=target.id)
    )
    # Tickets merged into `source` earlier now point straight at `target`.
    await session.execute(
        update(Ticket).where(Ticket.merged_into_id == source.id)
        .values(merged_into_id=target.id)
    )
    forgotten = 0
    if forget_splits:
        # Staff put these reports together again: forget that they were split apart.
        forgotten = (await session.execute(
            delete(DedupApart).where(DedupApart.report_id.in_(report_ids or [-1]),
                                     DedupApart.ticket_id == target.id)
        )).rowcount or 0  # type: ignore[attr-defined]
    reopen = source.state in OPEN_STATES and target.state not in OPEN_STATES
    target.report_count += len(report_ids)
    target.priority = max(target.priority, source.priority)
    target.escalation_level = max(target.escalation_level, source.escalation_level)
    target.virality_score = max(target.virality_score, source.virality_score)
    target.confidential = target.confidential or source.confidential
    if source.sla_due_at and (target.sla_due_at is None or source.sla_due_at < target.sla_due_at):
        target.sla_due_at = source.sla_due_at
    target.updated_at = now
    events = [
        Event(target.id, EventType.MERGED, actor, at=now, data={
            "from": source.number, "report_ids": report_ids, "reports_moved": len(report_ids),
            **({"splits_forgotten": forgotten} if forgotten else {}),
            **({"why": why} if why else {}),
        }),
        Event(source.id, EventType.MERGED_INTO, actor, at=now, data={
            "into": target.number, "reports_moved": len(report_ids),
        }),
        Event(source.id, EventType.STATE_CHANGED, actor, at=now, data={
            "from": source.state, "to": TicketState.CLOSED, "why": f"merged into {target.number}",
        }),
    ]
    if reopen:
        events.append(Event(target.id, EventType.STATE_CHANGED, actor, at=now, data={
            "from": target.state, "to": TicketState.IN_PROGRESS,
            "why": f"an open ticket ({source.number}) was merged into it",
        }))
        target.state = TicketState.IN_PROGRESS
        target.resolved_at = None
    source.state = TicketState.CLOSED
    source.merged_into_id = target.id
    source.report_count = 0
    source.updated_at = now
    await record_events(session, events)
    await _ack(session, report_ids, target, "merged")
    await session.flush()
    return MergeResult(source.number, target.number, len(report_ids))


async def split_report(session: AsyncSession, report_id: int, actor: str) -> SplitResult:
    """Give one report a ticket of its own, and remember that it does not belong to
    the ticket it came from."""
    report = await session.get(ReportRow, report_id)
    if report is None:
        raise ActionError(404, "not_found", f"no report {report_id}")
    source = await session.get(Ticket, report.ticket_id)
    assert source is not None
    await _lock(session, source.id)
    if source.report_count <= 1:
        raise ActionError(409, "conflict",
                          f"report {report_id} is the only report of {source.number}")
    now = utcnow()
    prefix = source.number.split("-", 1)[0]
    (number,) = await numbers.allocate(session, prefix, now.year, 1)
    sla = source.sla_due_at - source.created_at
    ticket = Ticket(
        number=number, title=_title(report), state=TicketState.NEW,
        priority=source.priority, kind=report.kind, unit=source.unit,
        confidential=report.confidential, escalation_level=0, virality_score=0.0,
        report_count=1, sla_due_at=now + sla,
        created_at=now, updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    report.ticket_id = ticket.id
    report.match_reason = "split"
    source.report_count -= 1
    source.updated_at = now
    await session.execute(insert(DedupApart).values(
        report_id=report.id, ticket_id=source.id, actor=actor, at=now))
    await _ensure_indexed(session, report)
    await record_events(session, [
        Event(source.id, EventType.REPORT_SPLIT, actor, at=now, data={
            "report_id": report.id, "to": ticket.number}),
        Event(ticket.id, EventType.CREATED, actor, at=now, data={
            "report_id": report.id, "channel": report.channel, "reason": "split",
            "from": source.number}),
    ])
    await _ack(session, [report.id], ticket, "split")
    await session.flush()
    return SplitResult(report.id, source.number, ticket.number)


# ---------------------------------------------------------------------- helpers


async def _ticket(session: AsyncSession, number: str) -> Ticket:
    ticket = await repo.ticket_by_number(session, number.strip().upper())
    if ticket is None:
        raise ActionError(404, "not_found", f"no ticket {number}")
    return ticket


async def _lock(session: AsyncSession, *ticket_ids: int) -> None:
    """Row locks in id order on PostgreSQL (no deadlock between two merges);
    SQLite's BEGIN IMMEDIATE already makes us the only writer."""
    if repo.dialect(session) == "postgresql":
        await session.execute(
            select(Ticket.id).where(Ticket.id.in_(sorted(ticket_ids)))
            .order_by(Ticket.id).with_for_update()
        )
        for tid in ticket_ids:
            ticket = await session.get(Ticket, tid)
            if ticket is not None:
                await session.refresh(ticket)


async def _ensure_indexed(session: AsyncSession, report: ReportRow) -> None:
    """A report matched by a reply or ticket number was never indexed; the matcher
    must know it to honour the split."""
    found = await session.scalar(
        select(func.count()).select_from(DedupDoc).where(DedupDoc.report_id == report.id))
    if found:
        return
    reporter = await session.get(Reporter, report.reporter_id) if report.reporter_id else None
    author = Author(handle=reporter.handle, email=reporter.email, phone=reporter.phone,
                    anonymous=report.anonymous) if reporter else None
    doc = extract(report.text, title=report.title, author=author, meta=report.meta,
                  at=report.sent_at or report.received_at)
    await session.execute(insert(DedupDoc), [doc_row(doc, report.id)])
    keys = index_keys(doc)
    if keys:
        now = utcnow()
        await session.execute(insert(DedupKey),
                              [{"key": k, "at": now, "report_id": report.id} for k in keys])


async def _ack(session: AsyncSession, report_ids: list[int], ticket: Ticket, reason: str
               ) -> None:
    """Tell each reporter concerned (once per source and reporter) their ticket number."""
    if not report_ids:
        return
    await queue_to_reporters(
        session, ticket.id,
        lambda r: Ack(r.report_external_ids[0], reason == "split", reason),
        only=await recipients(session, ticket.id, report_ids=report_ids),
    )


def _title(report: ReportRow) -> str:
    return make_title(Report(source=report.source, channel=report.channel,
                             external_id=report.external_id, text=report.text,
                             title=report.title))

