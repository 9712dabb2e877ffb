"""Figures read from the audit log and the duplicate index: escalations, viral
episodes, reopened tickets, the largest clusters of reports and the places named most.

Event types and their `data` keys are the interface (aggregator/events.py): `escalated`
{from, to, name}, `virality_changed` {from, to}, `state_changed` {from, to}.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.events import EventType
from aggregator.monitoring.figures import Cohort, ranked
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.scope import ticket_conditions
from aggregator.sections import AccessSettings
from storage.accounts import Principal
from storage.models import DedupDoc, Report, Ticket, TicketEvent

TOP = 10
CONFIDENTIAL = "(rahasia)"
FINISHED = ("resolved", "closed")


def _in(period: Period) -> list[Any]:
    return [TicketEvent.at >= period.start, TicketEvent.at < period.end]


async def escalations(session: AsyncSession, period: Period, scope: Scope,
                      principal: Principal, rules: AccessSettings) -> dict[str, Any]:
    rows = (await session.execute(
        select(TicketEvent.ticket_id, TicketEvent.type, TicketEvent.data)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.type.in_([str(EventType.ESCALATED),
                                     str(EventType.VIRALITY_CHANGED)]),
               *_in(period), *ticket_conditions(principal, rules, scope, live=False))
    )).all()
    levels: Counter[str] = Counter()
    escalated: set[int] = set()
    viral: set[int] = set()
    episodes = 0
    peak: Counter[int] = Counter()
    for tid, kind, data in rows:
        data = data or {}
        if kind == EventType.ESCALATED:
            escalated.add(tid)
            levels[str(data.get("name") or data.get("to"))] += 1
        elif _level(data.get("from")) == 0 and _level(data.get("to")) > 0:
            episodes += 1  # a quiet ticket started to go viral
            viral.add(tid)
            peak[_level(data.get("to"))] += 1
    return {
        "escalated": sum(levels.values()), "escalated_tickets": len(escalated),
        "by_level": ranked(levels),
        "viral_episodes": episodes, "viral_tickets": len(viral),
        "viral_start_levels": {str(k): v for k, v in sorted(peak.items())},
    }


def _level(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


async def recurring(session: AsyncSession, period: Period, scope: Scope,
                    principal: Principal, rules: AccessSettings, cohort: Cohort
                    ) -> dict[str, Any]:
    conds = ticket_conditions(principal, rules, scope, live=False)
    reopened = (await session.execute(
        select(TicketEvent.ticket_id, func.count())
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.type == str(EventType.STATE_CHANGED), *_in(period),
               TicketEvent.data["from"].as_string().in_(FINISHED), *conds)
        .group_by(TicketEvent.ticket_id)
    )).all()
    top_reopened = sorted(reopened, key=lambda r: (-r[1], r[0]))[:TOP]
    order = np.lexsort((cohort.ids, -cohort.report_count))[:TOP]
    biggest = [int(cohort.ids[i]) for i in order if cohort.report_count[i] > 1]
    about = await _tickets(session, [*biggest, *(r[0] for r in top_reopened)])
    return {
        "largest_clusters": [about[i] for i in biggest if i in about],
        "reopened": sum(n for _, n in reopened), "reopened_tickets": len(reopened),
        "most_reopened": [{**about[t], "times": n} for t, n in top_reopened if t in about],
        "top_places": await places(session, period, scope, principal, rules),
    }


async def _tickets(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = (await session.execute(
        select(Ticket.id, Ticket.number, Ticket.title, Ticket.report_count, Ticket.state,
               Ticket.unit, Ticket.confidential).where(Ticket.id.in_(sorted(set(ids))))
    )).all()
    return {tid: {"number": number, "title": CONFIDENTIAL if sealed else title,
                  "reports": count, "state": state, "unit": unit}
            for tid, number, title, count, state, unit, sealed in rows}


async def places(session: AsyncSession, period: Period, scope: Scope,
                 principal: Principal, rules: AccessSettings) -> list[dict[str, Any]]:
    """Named places (a place type and its name, as near-duplicate matching reads them)
    in the period's reports, most reported first."""
    stmt = (
        select(DedupDoc.places)
        .join(Report, Report.id == DedupDoc.report_id)
        .join(Ticket, Ticket.id == Report.ticket_id)
        .where(Report.received_at >= period.start, Report.received_at < period.end,
               DedupDoc.places != "", Ticket.confidential.is_(False),
               *ticket_conditions(principal, rules, scope, live=False, channel=False))
    )
    if scope.channel:
        stmt = stmt.where(Report.channel == scope.channel)
    seen: Counter[str] = Counter()
    for (raw,) in (await session.execute(stmt)):
        # "kind:name words|kind:name words": each place once per report.
        seen.update({" ".join(p.replace(":", " ").split()) for p in raw.split("|") if p})
    return [{"place": name, "reports": n} for name, n in list(ranked(seen).items())[:TOP]]
