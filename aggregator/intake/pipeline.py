"""What happens to a batch of reports inside one transaction.

Order of matching (first hit wins): an explicit ticket number > a reply to a message
we know (theirs or ours) > the same reporter repeating the same text > a near-duplicate
of an open ticket (pluggable) > a new ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.delivery.queue import Outgoing, outbox_row
from aggregator.domain import (
    IngestResult,
    Priority,
    Report,
    TicketState,
)
from aggregator.events import Event, EventType, connector_actor
from aggregator.events import record as record_events
from aggregator.intake import batch as batches
from aggregator.intake.batch import Batch
from aggregator.intake.matching import Ingested, IngestHook, NearDuplicateMatcher, text_hash
from aggregator.messages import Ack
from aggregator.tickets.rules import first_response_due, make_title, sla_due
from storage import numbers, repo
from storage.models import Attachment, Outbox, Ticket
from storage.models import Report as ReportRow
from storage.types import utcnow


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        matcher: NearDuplicateMatcher | None = None,
        hooks: Sequence[IngestHook] = (),
    ):
        self.settings = settings
        self.matcher = matcher
        self.hooks = list(hooks)

    def prepare(self, reports: Sequence[Report]) -> None:
        """Work on reports that needs no database (the matcher's signatures), done
        by `Ingestor.submit` before the write transaction."""
        prepare = getattr(self.matcher, "prepare", None)
        if prepare is not None and self.settings.dedup.enabled:
            prepare(reports)

    async def ingest_batch(
        self, session: AsyncSession, reports: Sequence[Report]
    ) -> list[IngestResult]:
        """Store a batch; a handful of statements for the whole batch, plus per-report
        lookups only where a report needs one (ticket refs, replies, near-duplicates)."""
        batch = Batch(now=utcnow())
        batch.digests = {id(r): text_hash(r.text) for r in reports}  # once a report
        existing = await batches.existing(session, reports)
        fresh = batches.fresh(reports, existing)
        if fresh:
            await batches.load_reporters(session, fresh, batch)
            await batches.load_repeats(session, fresh, batch,
                                       self.settings.tickets.repeat_window_hours)
            batch.ticket_ids, batch.report_ids = await repo.reserve_id_blocks(
                session, [(Ticket, len(fresh)), (ReportRow, len(fresh))])
            batch.remaining = len(fresh)
            prefetch = getattr(self.matcher, "prefetch", None)
            if prefetch is not None and self.settings.dedup.enabled:
                await prefetch(session, fresh)  # near-duplicate candidates, whole batch
        results: list[IngestResult] = []
        forget = getattr(self.matcher, "forget", None)
        with session.no_autoflush:
            for report in reports:
                key = (report.source, report.external_id)
                if key in existing:
                    results.append(existing[key])
                    if forget is not None:
                        forget(report)  # prepared, never to be indexed
                    continue
                batch.remaining -= 1
                result = await self._one(session, report, batch)
                existing[key] = batches.as_existing(result)
                results.append(result)
        await self._write(session, batch)
        if batch.moved:  # the matcher folded tickets: say where the reports are now
            results = [_moved(r, batch.moved) for r in results]
        return results

    async def _write(self, session: AsyncSession, batch: Batch) -> None:
        await session.flush()  # new tickets, then changes to existing ones
        if batch.reports:
            await session.execute(insert(ReportRow), batch.reports)
            batch.reports = []
        if batch.attachments:
            await session.execute(insert(Attachment), batch.attachments)
            batch.attachments = []
        if batch.numbers and batch.last_number is not None:
            # Give back the numbers reserved but not used (we hold the counter's lock).
            await numbers.give_back(
                session, self.settings.tickets.prefix, batch.now.year, batch.last_number
            )
            batch.numbers = []
        await record_events(session, batch.events)
        batch.events = []
        if batch.outbox:
            await session.execute(insert(Outbox), [outbox_row(o, batch.now) for o in batch.outbox])
            batch.outbox = []
        settle = getattr(self.matcher, "settle", None)
        if settle is not None and self.settings.dedup.enabled:
            # Fragments of one incident the matcher folded: merged once the reports
            # are stored (so they move too) and acknowledged (the "merged" message
            # follows the first one).
            batch.moved.update(await settle(session))
            batch.ingested = [_moved_ingested(i, batch.moved) for i in batch.ingested]
        # Hooks run last: every ticket, report and event of the batch is in the
        # database, so whatever they write (events, signals) can refer to them.
        if batch.ingested and self.hooks:
            for hook in self.hooks:
                await hook.after_ingest(session, batch.ingested)
        batch.ingested = []

    # ------------------------------------------------------------------ steps

    async def _one(self, session: AsyncSession, report: Report, batch: Batch) -> IngestResult:
        reporter_id = batch.reporters.get((report.source, report.author.handle or ""))
        digest = batch.digests[id(report)]
        ticket, reason, detail = await self._match(session, report, reporter_id, digest, batch)
        recurs = detail.pop("recurrence_of", None)
        created = ticket is None
        if ticket is None:
            ticket = await self._new_ticket(session, report, batch)
            reason = "new"
        row_id = batch.report_ids.pop(0)
        batch.reports.append({
            "id": row_id, "source": report.source, "channel": report.channel,
            "external_id": report.external_id, "ticket_id": ticket.id,
            "reporter_id": reporter_id, "title": report.title or None, "text": report.text,
            "body": report.body, "text_hash": digest, "kind": str(report.kind),
            "anonymous": report.author.anonymous,
            "confidential": report.sealed or ticket.confidential,
            "sent_at": report.sent_at, "received_at": batch.now, "match_reason": reason,
            "meta": report.meta,
        })
        batch.attachments.extend(
            {"report_id": row_id, "filename": a.filename, "content_type": a.content_type,
             "size": a.size, "sha256": a.sha256, "url": a.url, "data": a.data, "note": a.note,
             "created_at": batch.now}
            for a in report.attachments
        )
        batch.in_batch[(report.source, report.external_id)] = ticket
        if reporter_id is not None:
            batch.repeats.setdefault((reporter_id, digest), ticket.id)
        if not created:
            ticket.report_count += 1
            ticket.updated_at = batch.now
        actor = connector_actor(report.source)
        batch.events.append(Event(
            ticket.id, EventType.CREATED if created else EventType.REPORT_ADDED, actor,
            {"report_id": row_id, "channel": report.channel, "reason": reason, **detail},
            batch.now,
        ))
        if recurs is not None:
            batch.events.append(Event(ticket.id, EventType.RECURRENCE_OF, actor, recurs,
                                      batch.now))
        if not created and reason in ("reply", "ticket_ref") and ticket.state in (
            TicketState.RESOLVED, TicketState.CLOSED,
        ):
            batch.events.append(Event(
                ticket.id, EventType.STATE_CHANGED, actor,
                {"from": ticket.state, "to": TicketState.IN_PROGRESS,
                 "why": "the reporter wrote again"}, batch.now,
            ))
            ticket.state = TicketState.IN_PROGRESS
            ticket.resolved_at = None
        if report.ack:
            batch.outbox.append(Outgoing(
                report.source, Ack(report.external_id, created, reason),
                ticket_id=ticket.id, reporter_id=reporter_id,
            ))
        if self.matcher is not None and self.settings.dedup.enabled:
            await self.matcher.index(session, report, row_id, ticket.id,
                                     ticket.confidential)
        batch.ingested.append(Ingested(report, row_id, ticket, created, reason))
        return IngestResult(
            report_id=row_id, ticket_id=ticket.id, ticket_number=ticket.number,
            created_report=True, created_ticket=created, match_reason=reason,
        )

    async def _match(
        self, session: AsyncSession, report: Report, reporter_id: int | None, digest: str,
        batch: Batch,
    ) -> tuple[Ticket | None, str, dict[str, Any]]:
        """The first candidate that is allowed across the confidentiality boundary."""
        found = await self._candidate(session, report, reporter_id, digest, batch)
        ticket, reason, detail = found
        if ticket is not None and reason == "recurrence":
            # The problem came back: a new ticket, linked to the earlier one (not
            # across the confidentiality boundary, like a match).
            if report.sealed != ticket.confidential:
                return None, "new", {}
            return None, "new", {"recurrence_of": {
                "ticket": ticket.number, "report_id": detail.get("matched_report_id"),
                "hours": detail.get("hours"), "score": detail.get("score")}}
        if ticket is None or report.sealed == ticket.confidential:
            return found
        # A sealed report never joins an open ticket (its reporter would hear the other
        # reporters' replies and the other way round), nor an open report a sealed one,
        # unless its sender is already a reporter of that sealed ticket and wrote to it
        # on purpose (a reply or its number): then the report is sealed like its ticket.
        if (ticket.confidential and reason in ("reply", "ticket_ref") and reporter_id is not None
                and await _reported_on(session, batch, ticket.id, reporter_id)):
            return found
        return None, "new", {"sealed_apart": ticket.number}

    async def _candidate(
        self, session: AsyncSession, report: Report, reporter_id: int | None, digest: str,
        batch: Batch,
    ) -> tuple[Ticket | None, str, dict[str, Any]]:
        if report.ticket_ref:
            number = report.ticket_ref.strip().upper()
            ticket = batch.new_tickets.get(number) or await repo.resolve_ticket(
                session, await repo.ticket_by_number(session, number)
            )
            if ticket is not None:
                return ticket, "ticket_ref", {}
        if report.reply_to:
            ticket = next(
                (batch.in_batch[k] for k in ((report.source, r) for r in report.reply_to)
                 if k in batch.in_batch), None,
            ) or await self._reply_target(session, report)
            if ticket is not None:
                return ticket, "reply", {}
        if reporter_id is not None:
            tid = batch.repeats.get((reporter_id, digest))
            if tid is not None:
                ticket = await self._ticket(session, batch, tid)
                if ticket is not None:
                    return ticket, "same_reporter", {}
        if self.matcher is not None and self.settings.dedup.enabled:
            # The matcher sees this batch's earlier reports through its own index
            # (it writes that at commit, after the reports).
            match = await self.matcher.find(session, report, reporter_id)
            if match is not None:
                ticket = await self._ticket(session, batch, match.ticket_id)
                if ticket is not None:
                    reason = "recurrence" if match.recurrence else "near_duplicate"
                    return ticket, reason, {"score": round(match.score, 4), **match.detail}
        return None, "new", {}

    async def _ticket(self, session: AsyncSession, batch: Batch, ticket_id: int) -> Ticket | None:
        """A ticket by id, including one this batch created and has not written yet."""
        created = batch.new_by_id.get(ticket_id)
        if created is not None:
            return created
        return await repo.resolve_ticket(session, await session.get(Ticket, ticket_id))

    async def _reply_target(self, session: AsyncSession, report: Report) -> Ticket | None:
        refs = list(dict.fromkeys(report.reply_to))[-50:]
        tid = (
            await session.execute(
                select(ReportRow.ticket_id)
                .where(ReportRow.source == report.source, ReportRow.external_id.in_(refs))
                .order_by(ReportRow.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if tid is None:
            tid = (
                await session.execute(
                    select(Outbox.ticket_id)
                    .where(Outbox.source == report.source, Outbox.external_id.in_(refs),
                           Outbox.ticket_id.is_not(None))
                    .order_by(Outbox.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if tid is None:
            return None
        return await repo.resolve_ticket(session, await session.get(Ticket, tid))

    async def _new_ticket(self, session: AsyncSession, report: Report, batch: Batch) -> Ticket:
        if not batch.numbers:
            # From a counter: the batch's worst case at once (what is left is given
            # back); from a sequence (PostgreSQL): one, as a gap would stay.
            wanted = batch.remaining + 1 if numbers.gapless(session) else 1
            batch.numbers = await numbers.allocate(
                session, self.settings.tickets.prefix, batch.now.year, wanted)
        number = batch.numbers.pop(0)
        batch.last_number = int(number.rsplit("-", 1)[1])
        priority = Priority.NORMAL
        ticket = Ticket(
            id=batch.ticket_ids.pop(0),
            number=number,
            title=make_title(report),
            state=TicketState.NEW,
            priority=int(priority),
            kind=str(report.kind),
            confidential=report.sealed,
            escalation_level=0,
            virality_score=0.0,
            report_count=1,
            sla_due_at=sla_due(self.settings, priority, batch.now),
            first_response_due_at=first_response_due(self.settings, priority, batch.now),
            created_at=batch.now,
            updated_at=batch.now,
        )
        session.add(ticket)
        batch.new_tickets[number] = ticket
        batch.new_by_id[ticket.id] = ticket
        return ticket


def _moved(result: IngestResult, moved: dict[int, Ticket]) -> IngestResult:
    ticket = moved.get(result.ticket_id)
    if ticket is None or not result.created_report:
        return result
    return replace(result, ticket_id=ticket.id, ticket_number=ticket.number)


def _moved_ingested(item: Ingested, moved: dict[int, Ticket]) -> Ingested:
    ticket = moved.get(item.ticket.id)
    return item if ticket is None else replace(item, ticket=ticket)


async def _reported_on(session: AsyncSession, batch: Batch, ticket_id: int,
                       reporter_id: int) -> bool:
    if any(r["ticket_id"] == ticket_id and r["reporter_id"] == reporter_id
           for r in batch.reports):
        return True
    found = await session.execute(
        select(ReportRow.id).where(ReportRow.ticket_id == ticket_id,
                                   ReportRow.reporter_id == reporter_id).limit(1)
    )
    return found.first() is not None
