"""One round of the escalation policy over the open tickets that may need it.

A ticket is looked at when something could have changed its verdict: new reports since
the last round (watch words, report counts), a detector level, an SLA due soon or past,
or an escalation not yet acknowledged (repeats). A level once reached stays until the
ticket is resolved; staff acknowledge it to stop the repeats. Every escalation,
notification and SLA breach is an audit event; notifications are typed messages in the
outbox, written in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.delivery.queue import Outgoing, queue
from aggregator.domain import OPEN_STATES, Priority
from aggregator.escalation.policy import Facts, Level, evaluate, normal_word
from aggregator.events import SYSTEM, Event, EventType
from aggregator.events import record as record_events
from aggregator.messages import StaffNotice
from aggregator.sla.clock import state as sla_state
from storage import repo
from storage.models import Escalation, Ticket, Virality
from storage.models import Report as ReportRow
from storage.types import utcnow

WEBHOOK_SOURCE = "escalation"  # the outbox source of webhook targets
MAX_TICKETS = 500  # per round; the most urgent first


@dataclass(frozen=True)
class Target:
    source: str  # a connector's name, or WEBHOOK_SOURCE
    address: str  # what that channel needs (chat id, e-mail address, target name)


@dataclass(frozen=True)
class Policy:
    levels: Sequence[Level]
    targets: dict[str, Target]
    keywords: tuple[str, ...]  # every watch word of every level
    window: timedelta  # the longest report-count window
    horizon: timedelta  # the longest "due within"
    ticket_url: str  # with {number}


async def run_round(session: AsyncSession, policy: Policy, now: datetime | None = None
                    ) -> int:
    """Evaluate and act; returns how many tickets escalated or were re-notified."""
    now = now or utcnow()
    tickets = await _candidates(session, policy, now)
    if not tickets:
        return 0
    ids = [t.id for t in tickets]
    rows = {e.ticket_id: e for e in (await session.execute(
        select(Escalation).where(Escalation.ticket_id.in_(ids)))).scalars()}
    virality = {tid: (level, (evidence or {}).get("stream", "reports"))
                for tid, level, evidence in await session.execute(
                    select(Virality.ticket_id, Virality.level, Virality.evidence)
                    .where(Virality.ticket_id.in_(ids)))}
    times = await _report_times(session, ids, now - policy.window)
    acted = 0
    for ticket in tickets:
        row = rows.get(ticket.id)
        if row is None:
            row = Escalation(ticket_id=ticket.id, level=0, reasons=[], keywords=[], breaches=[],
                             last_report_id=0, acknowledged_level=0, updated_at=now)
            session.add(row)
        await _read_new_reports(session, policy, ticket, row)
        viral_level, viral_stream = virality.get(ticket.id, (0, "reports"))
        facts = Facts(
            now=now, virality_level=viral_level, virality_stream=viral_stream,
            report_times=times.get(ticket.id, []), keywords_seen=frozenset(row.keywords),
            first_response_due=ticket.first_response_due_at,
            first_response_at=ticket.first_response_at, resolution_due=ticket.sla_due_at,
            resolved_at=ticket.resolved_at,
        )
        events = _breaches(ticket, row, facts)
        verdict = evaluate(policy.levels, facts)
        if verdict.level > row.level:
            events += await _escalate(session, policy, ticket, row, verdict.level,
                                      verdict.reasons, now)
            acted += 1
        elif _repeat_due(policy, row, now):
            events += await _notify(session, policy, ticket, row, row.level, row.reasons, now,
                                    repeat=True)
            acted += 1
        await record_events(session, events)
        row.updated_at = now
    return acted


async def _candidates(session: AsyncSession, policy: Policy, now: datetime) -> list[Ticket]:
    pending = select(Escalation.ticket_id).where(
        Escalation.level > Escalation.acknowledged_level)
    fresh = select(ReportRow.ticket_id).where(ReportRow.received_at >= now - policy.window)
    viral = select(Virality.ticket_id).where(Virality.level > 0)
    stmt = (
        select(Ticket)
        .where(Ticket.merged_into_id.is_(None),
               Ticket.state.in_([s.value for s in OPEN_STATES]),
               or_(Ticket.id.in_(pending), Ticket.id.in_(fresh), Ticket.id.in_(viral),
                   Ticket.sla_due_at <= now + policy.horizon,
                   Ticket.first_response_due_at <= now + policy.horizon))
        .order_by(Ticket.escalation_level.desc(), Ticket.priority.desc(), Ticket.sla_due_at)
        .limit(MAX_TICKETS)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


async def _report_times(session: AsyncSession, ids: list[int], since: datetime
                        ) -> dict[int, list[datetime]]:
    """The reports' own times (a replayed backlog is not a burst)."""
    at = func.coalesce(ReportRow.sent_at, ReportRow.received_at)
    out: dict[int, list[datetime]] = {}
    for chunk in repo.chunks(ids):
        for tid, when in await session.execute(
            select(ReportRow.ticket_id, at).where(ReportRow.ticket_id.in_(chunk), at >= since)
        ):
            out.setdefault(tid, []).append(_aware(when))
    return out


async def _read_new_reports(session: AsyncSession, policy: Policy, ticket: Ticket,
                            row: Escalation) -> None:
    """Watch words in reports not read yet."""
    new = (await session.execute(
        select(ReportRow.id, ReportRow.title, ReportRow.text)
        .where(ReportRow.ticket_id == ticket.id, ReportRow.id > row.last_report_id)
        .order_by(ReportRow.id).limit(1000)
    )).all()
    if not new:
        return
    seen = set(row.keywords)
    for _, title, text in new:
        body = normal_word(f"{title or ''} {text}")
        seen |= {k for k in policy.keywords if k not in seen and _has_word(body, k)}
    row.keywords = sorted(seen)
    row.last_report_id = new[-1][0]


def _breaches(ticket: Ticket, row: Escalation, f: Facts) -> list[Event]:
    """An event the first time each SLA target is missed."""
    out: list[Event] = []
    for name, due, done in (("first_response", f.first_response_due, f.first_response_at),
                            ("resolution", f.resolution_due, f.resolved_at)):
        if name not in row.breaches and sla_state(due, done, f.now) == "breached":
            row.breaches = [*row.breaches, name]
            out.append(Event(ticket.id, EventType.SLA_BREACHED, SYSTEM,
                             {"target": name, "due": due.isoformat() if due else None}))
    return out


async def _escalate(session: AsyncSession, policy: Policy, ticket: Ticket, row: Escalation,
                    level: int, reasons: list[str], now: datetime) -> list[Event]:
    events: list[Event] = []
    for n in range(row.level + 1, level + 1):  # every level passed applies its actions
        spec = policy.levels[n - 1]
        if spec.priority is not None and ticket.priority < spec.priority:
            events.append(Event(ticket.id, EventType.PRIORITY_CHANGED, SYSTEM, {
                "from": Priority(ticket.priority).name.lower(),
                "to": spec.priority.name.lower(), "why": f"escalated to {spec.name}"}))
            ticket.priority = int(spec.priority)
        for field, event_type in (("unit", EventType.UNIT_CHANGED),
                                  ("assignee", EventType.ASSIGNEE_CHANGED)):
            value = getattr(spec, field)
            if value and getattr(ticket, field) != value:
                events.append(Event(ticket.id, event_type, SYSTEM, {
                    "from": getattr(ticket, field), "to": value,
                    "why": f"escalated to {spec.name}"}))
                setattr(ticket, field, value)
    spec = policy.levels[level - 1]
    events.append(Event(ticket.id, EventType.ESCALATED, SYSTEM, {
        "from": row.level, "to": level, "name": spec.name, "reasons": reasons}))
    row.level, row.reasons = level, reasons
    ticket.escalation_level = level
    ticket.updated_at = now
    return events + await _notify(session, policy, ticket, row, level, reasons, now)


async def _notify(session: AsyncSession, policy: Policy, ticket: Ticket, row: Escalation,
                  level: int, reasons: list[str], now: datetime, *, repeat: bool = False
                  ) -> list[Event]:
    spec = policy.levels[level - 1]
    names = [n for n in spec.notify if n in policy.targets]
    if not names:
        return []
    url = policy.ticket_url.format(number=ticket.number)
    subject = f"[{ticket.number}] Eskalasi level {level} ({spec.name})"
    text = (f"{subject}\n{ticket.title}\nAlasan: {'; '.join(reasons)}\n"
            f"Prioritas: {Priority(ticket.priority).name.lower()}, "
            f"laporan: {ticket.report_count}\n{url}" + ("\n(pengingat: belum ditanggapi)"
                                                        if repeat else ""))
    await queue(session, [
        Outgoing(t.source, StaffNotice(t.address, subject, text, url), ticket_id=ticket.id,
                 target=f"{name}")
        for name in names for t in [policy.targets[name]]
    ])
    row.notified_at = now
    return [Event(ticket.id, EventType.NOTIFIED, SYSTEM,
                  {"level": level, "targets": names, "repeat": repeat})]


def _repeat_due(policy: Policy, row: Escalation, now: datetime) -> bool:
    if row.level == 0 or row.acknowledged_level >= row.level:
        return False
    every = policy.levels[row.level - 1].repeat
    return every is not None and row.notified_at is not None and \
        now - _aware(row.notified_at) >= every


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def as_dict(row: Escalation | None) -> dict[str, Any]:
    """The ticket-detail section."""
    if row is None:
        return {"level": 0}
    return {
        "level": row.level, "reasons": row.reasons, "watch_words": row.keywords,
        "sla_breaches": row.breaches,
        "notified_at": row.notified_at.isoformat() if row.notified_at else None,
        "acknowledged_level": row.acknowledged_level, "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
    }
