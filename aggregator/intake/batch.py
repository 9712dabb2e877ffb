"""What a batch looks up once for all its reports, before any is matched: which are
stored already (a retry, a replay), who sent them, and which repeat a reporter's
recent text. A few statements a batch, not a few a report; and the batch's memory
(`Batch`), through which its reports see one another."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.delivery.queue import Outgoing
from aggregator.domain import OPEN_STATES, IngestResult, Report
from aggregator.events import Event
from aggregator.intake.matching import Ingested
from storage import repo
from storage.models import Report as ReportRow
from storage.models import Reporter, Ticket


@dataclass
class Batch:
    """Per-transaction memory, so reports in one batch see each other."""

    now: datetime
    reporters: dict[tuple[str, str], int] = field(default_factory=dict)
    # (reporter_id, text_hash) -> ticket id of a recent repeat, prefetched per batch
    repeats: dict[tuple[int, str], int] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)  # id(report) -> text_hash
    numbers: list[str] = field(default_factory=list)  # reserved, not yet used
    last_number: int | None = None  # highest number handed out in this batch
    remaining: int = 0  # reports of the batch not yet processed
    ticket_ids: list[int] = field(default_factory=list)  # reserved primary keys
    report_ids: list[int] = field(default_factory=list)
    new_tickets: dict[str, Ticket] = field(default_factory=dict)  # by number
    new_by_id: dict[int, Ticket] = field(default_factory=dict)
    in_batch: dict[tuple[str, str], Ticket] = field(default_factory=dict)  # report key
    reports: list[dict[str, Any]] = field(default_factory=list)  # rows not yet written
    attachments: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    outbox: list[Outgoing] = field(default_factory=list)
    ingested: list[Ingested] = field(default_factory=list)  # for the hooks
    moved: dict[int, Ticket] = field(default_factory=dict)  # folded ticket id -> now on


async def existing(
    session: AsyncSession, reports: Sequence[Report]
) -> dict[tuple[str, str], IngestResult]:
    """Reports of the batch stored already (a portal's retry, a mailbox read again),
    with the ticket each went to."""
    found: dict[tuple[str, str], IngestResult] = {}
    for source, ids in _by_source((r.source, r.external_id) for r in reports).items():
        for chunk in repo.chunks(ids, 400):
            rows = await session.execute(
                select(ReportRow.external_id, ReportRow.id, Ticket.id, Ticket.number)
                .join(Ticket, Ticket.id == ReportRow.ticket_id)
                .where(ReportRow.source == source, ReportRow.external_id.in_(chunk))
            )
            for ext, rid, tid, number in rows:
                found[(source, ext)] = IngestResult(
                    report_id=rid, ticket_id=tid, ticket_number=number,
                    created_report=False, created_ticket=False, match_reason="existing",
                )
    return found


async def load_reporters(
    session: AsyncSession, reports: Sequence[Report], batch: Batch
) -> None:
    """The senders' reporter ids into `batch.reporters`, created where new (one insert
    that ignores the known ones, one lookup)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in reports:
        a = r.author
        if a.handle:
            rows.setdefault((r.source, a.handle), {
                "source": r.source, "handle": a.handle, "name": a.name, "email": a.email,
                "phone": a.phone, "banned": False, "created_at": batch.now,
            })
    if not rows:
        return
    await session.execute(
        repo.insert_ignore(session, Reporter, ["source", "handle"]), list(rows.values())
    )
    for source, handles in _by_source(rows).items():
        for chunk in repo.chunks(handles, 400):
            found = await session.execute(
                select(Reporter.handle, Reporter.id).where(
                    Reporter.source == source, Reporter.handle.in_(chunk)
                )
            )
            for handle, rid in found:
                batch.reporters[(source, handle)] = rid


async def load_repeats(
    session: AsyncSession, reports: Sequence[Report], batch: Batch, window_hours: float
) -> None:
    """Prefetch recent same-reporter same-text reports on open tickets."""
    pairs = {
        (rid, batch.digests[id(r)])
        for r in reports
        if (rid := batch.reporters.get((r.source, r.author.handle or ""))) is not None
    }
    if not pairs:
        return
    window = batch.now - timedelta(hours=window_hours)
    by_reporter: dict[int, list[str]] = {}
    for rid, digest in pairs:
        by_reporter.setdefault(rid, []).append(digest)
    ids = list(by_reporter)
    # The ticket's state per report row (a primary-key lookup each), not a join:
    # PostgreSQL, with statistics that lag a fast-growing table (a fresh database,
    # a burst), planned the join as a scan of every ticket per batch.
    state = (select(Ticket.state).where(Ticket.id == ReportRow.ticket_id)
             .scalar_subquery())
    open_states = {str(s) for s in OPEN_STATES}
    for chunk in repo.chunks(ids, 400):
        rows = await session.execute(
            select(ReportRow.reporter_id, ReportRow.text_hash, ReportRow.ticket_id, state)
            .where(
                ReportRow.reporter_id.in_(chunk),
                ReportRow.received_at >= window,
            )
            .order_by(ReportRow.id)
        )
        for rid, digest, tid, ticket_state in rows:
            if str(ticket_state) not in open_states:
                continue
            if rid is not None and digest in by_reporter[rid]:
                batch.repeats[(rid, digest)] = tid


def fresh(
    reports: Sequence[Report], existing: dict[tuple[str, str], IngestResult]
) -> list[Report]:
    """Reports not stored yet, first occurrence of each key only."""
    seen: dict[tuple[str, str], Report] = {}
    for r in reports:
        key = (r.source, r.external_id)
        if key not in existing:
            seen.setdefault(key, r)
    return list(seen.values())


def as_existing(result: IngestResult) -> IngestResult:
    return IngestResult(
        report_id=result.report_id, ticket_id=result.ticket_id,
        ticket_number=result.ticket_number, created_report=False, created_ticket=False,
        match_reason="existing",
    )


def _by_source(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group keys by source so lookups use the (source, key) index; SQLite does not
    use an index for row-value IN lists."""
    out: dict[str, list[str]] = {}
    for source, key in dict.fromkeys(keys):
        out.setdefault(source, []).append(key)
    return out
