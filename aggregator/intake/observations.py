"""What channels observe besides reports, written through the connector port: delivery
feedback (bounces), signal samples (engagement counts over time), survey answers and
what a reporter told us about themselves. Each function runs in the caller's
transaction and is idempotent where a channel may deliver the same thing twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import OVERALL_RATING, SURVEY_ELEMENTS, TicketState
from aggregator.events import Event, EventType, connector_actor, reporter_actor
from aggregator.events import record as record_events
from aggregator.tickets.lookups import TicketView, reporter, reporter_ticket, view
from storage import repo
from storage.models import (
    EngagementSample,
    Outbox,
    Reporter,
    SurveyAnswer,
    Ticket,
    TicketEvent,
)
from storage.models import Report as ReportRow
from storage.types import utcnow

RATED_STATES = (TicketState.RESOLVED.value, TicketState.CLOSED.value)
SURVEY_SCORES = (1, 2, 3, 4)
FEEDBACK_EVENTS = (EventType.DELIVERY_FAILED, EventType.DELIVERY_DELAYED)


@dataclass(frozen=True, slots=True)
class SignalSample:
    """One observation of a report's public counters (retweets, likes, views...).
    `meta_key`: also keep the newest value in the report's meta under this key."""

    report_id: int
    ticket_id: int
    at: datetime
    metrics: Mapping[str, int] = field(default_factory=dict)
    meta_key: str | None = None


async def delivery_feedback(
    session: AsyncSession, source: str, *, message_ids: Sequence[str], delayed: bool,
    feedback_id: str, data: Mapping[str, Any],
) -> bool | None:
    """Record that a message we sent (known by the id the channel gave it) failed or
    is delayed. None: not a message of ours; False: this feedback was recorded before."""
    ids = [i for i in message_ids if i][:50]
    if not ids:
        return None
    row = (await session.execute(
        select(Outbox.id, Outbox.ticket_id, Outbox.kind, Outbox.external_id)
        .where(Outbox.source == source, Outbox.external_id.in_(ids),
               Outbox.ticket_id.is_not(None))
        .order_by(Outbox.id.desc()).limit(1)
    )).first()
    if row is None:
        return None
    outbox_id, ticket_id, kind, original = row
    assert ticket_id is not None  # selected so
    seen = (await session.execute(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket_id,
                                       TicketEvent.type.in_([str(t) for t in FEEDBACK_EVENTS]))
    )).scalars()
    # `bounce_id`: how the first release recorded a bounce's id.
    if any(feedback_id in ((d or {}).get("feedback_id"), (d or {}).get("bounce_id"))
           for d in seen):
        return False
    await record_events(session, [Event(
        ticket_id, EventType.DELIVERY_DELAYED if delayed else EventType.DELIVERY_FAILED,
        connector_actor(source),
        {"feedback_id": feedback_id, "message_id": original, "outbox_id": outbox_id,
         "kind": kind, **data},
    )])
    return True


async def record_signals(session: AsyncSession, samples: Sequence[SignalSample]) -> int:
    """Write a sample for every report whose metrics changed since its last sample
    (a quiet post costs no rows); returns how many were written."""
    items = [s for s in samples if s.metrics]
    if not items:
        return 0
    last = await _last_metrics(session, [s.report_id for s in items])
    rows: list[dict[str, Any]] = []
    meta: dict[int, tuple[str, Mapping[str, int], datetime]] = {}
    for s in items:
        metrics = dict(s.metrics)
        if last.get(s.report_id) == metrics:
            continue
        last[s.report_id] = metrics
        rows.append({"report_id": s.report_id, "ticket_id": s.ticket_id, "at": s.at,
                     "metrics": metrics})
        if s.meta_key:
            meta[s.report_id] = (s.meta_key, metrics, s.at)
    if rows:
        await session.execute(insert(EngagementSample), rows)
    if meta:
        await _copy_to_reports(session, meta)
    return len(rows)


async def _last_metrics(session: AsyncSession, report_ids: Sequence[int]
                        ) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in repo.chunks(list(report_ids)):
        newest = (
            select(func.max(EngagementSample.id))
            .where(EngagementSample.report_id.in_(chunk))
            .group_by(EngagementSample.report_id)
        )
        found = await session.execute(
            select(EngagementSample.report_id, EngagementSample.metrics)
            .where(EngagementSample.id.in_(newest))
        )
        out.update({rid: dict(m or {}) for rid, m in found})
    return out


async def _copy_to_reports(
    session: AsyncSession, meta: dict[int, tuple[str, Mapping[str, int], datetime]]
) -> None:
    current: dict[int, Any] = {}
    for chunk in repo.chunks(list(meta)):
        current.update((await session.execute(
            select(ReportRow.id, ReportRow.meta).where(ReportRow.id.in_(chunk))
        )).all())
    changes = []
    for rid, (key, metrics, at) in meta.items():
        updated = dict(current.get(rid) or {})
        updated[key] = dict(metrics)
        updated["metrics_at"] = at.isoformat(timespec="seconds")
        changes.append({"id": rid, "meta": updated})
    # ORM bulk UPDATE by primary key: one executemany, not one statement per row.
    await session.execute(update(ReportRow), changes)


async def record_survey(
    session: AsyncSession, source: str, channel: str, handle: str, number: str, score: int,
    label: str,
) -> TicketView | None:
    """A one-question satisfaction rating (1-4): `record_survey_answer` as `overall`."""
    return await record_survey_answer(session, source, channel, handle, number,
                                      OVERALL_RATING, score, label)


async def record_survey_answer(
    session: AsyncSession, source: str, channel: str, handle: str, number: str,
    element: str, score: int, label: str | None = None,
) -> TicketView | None:
    """One survey answer (an IKM element or `overall`, 1-4) from a reporter of a
    resolved or closed ticket; None when the ticket is not theirs or not finished.
    Every answer is kept (a new row each time, never overwritten)."""
    if element not in SURVEY_ELEMENTS or score not in SURVEY_SCORES:
        raise ValueError(f"not a survey answer: {element}={score}")
    ticket = await reporter_ticket(session, source, handle, number)
    if ticket is None or ticket.state not in RATED_STATES:
        return None
    who = await reporter(session, source, handle)
    await record_survey_answers(
        session, ticket, respondent=f"r:{who.id}" if who else f"h:{source}:{handle}"[:120],
        channel=channel, source=source, answers={element: score}, label=label,
        actor=reporter_actor(source, handle))
    return view(ticket)


async def record_survey_answers(
    session: AsyncSession, ticket: Ticket, *, respondent: str, channel: str, source: str,
    answers: Mapping[str, int], actor: str, label: str | None = None,
) -> None:
    """Store a respondent's answers to a finished ticket's survey (the caller checked
    who they are) and the `survey` event. An `overall` rating is also the ticket's
    `satisfaction` shown to staff."""
    now = utcnow()
    rows = [{"ticket_id": ticket.id, "channel": channel, "respondent": respondent,
             "element": element, "score": score, "at": now}
            for element, score in answers.items()]
    if not rows:
        return
    await session.execute(insert(SurveyAnswer), rows)
    data: dict[str, Any] = {"channel": channel, "source": source}
    overall = answers.get(OVERALL_RATING)
    if overall is not None:
        ticket.satisfaction = overall
        data.update(score=overall, label=label)
    elements = {k: v for k, v in answers.items() if k != OVERALL_RATING}
    if elements:
        data["elements"] = elements
    await record_events(session, [Event(ticket.id, EventType.SURVEY, actor, data)])


async def record_survey_comment(
    session: AsyncSession, source: str, handle: str, number: str, text: str
) -> bool:
    ticket = await reporter_ticket(session, source, handle, number)
    if ticket is None:
        return False
    ticket.satisfaction_comment = text[:4000]
    await record_events(session, [Event(
        ticket.id, EventType.SURVEY_COMMENT, reporter_actor(source, handle),
        {"text": text[:4000], "source": source},
    )])
    return True


async def set_language(session: AsyncSession, source: str, handle: str, name: str | None,
                       language: str) -> None:
    await session.execute(
        repo.insert_ignore(session, Reporter, ["source", "handle"]).values(
            source=source, handle=handle, name=name, banned=False, created_at=utcnow())
    )
    await session.execute(
        update(Reporter).where(Reporter.source == source, Reporter.handle == handle)
        .values(language=language)
    )
