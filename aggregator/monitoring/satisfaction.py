"""The satisfaction figures of a period, overall and per unit: the answers given in
the period (each person's latest per ticket and element counts once), and the people
served in the period (reporters of the tickets resolved in it) as the population the
sample is judged against. See aggregator/monitoring/ikm.py for the method."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.monitoring import ikm
from aggregator.monitoring.figures import NONE_UNIT
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.scope import ticket_conditions
from aggregator.sections import AccessSettings
from storage.accounts import Principal
from storage.models import Report, SurveyAnswer, Ticket


async def satisfaction(session: AsyncSession, period: Period, scope: Scope,
                       principal: Principal, rules: AccessSettings) -> dict[str, Any]:
    conds = ticket_conditions(principal, rules, scope, live=False)
    latest = (
        select(func.max(SurveyAnswer.id).label("id"))
        .where(SurveyAnswer.at >= period.start, SurveyAnswer.at < period.end)
        .group_by(SurveyAnswer.ticket_id, SurveyAnswer.respondent, SurveyAnswer.element)
        .subquery()
    )
    counted = (await session.execute(
        select(Ticket.unit, SurveyAnswer.element, SurveyAnswer.score, func.count())
        .join(latest, latest.c.id == SurveyAnswer.id)
        .join(Ticket, Ticket.id == SurveyAnswer.ticket_id)
        .where(*conds)
        .group_by(Ticket.unit, SurveyAnswer.element, SurveyAnswer.score)
    )).all()
    # A respondent: one person's questionnaire on one ticket (any of the nine elements).
    people = (
        select(Ticket.unit.label("unit"), SurveyAnswer.ticket_id, SurveyAnswer.respondent)
        .join(Ticket, Ticket.id == SurveyAnswer.ticket_id)
        .where(SurveyAnswer.at >= period.start, SurveyAnswer.at < period.end,
               SurveyAnswer.element.in_(ikm.ELEMENTS), *conds)
        .distinct().subquery()
    )
    respondents: dict[str | None, int] = dict((await session.execute(
        select(people.c.unit, func.count()).group_by(people.c.unit))).all())
    served: dict[str | None, int] = dict((await session.execute(
        select(Ticket.unit, func.count(func.distinct(
            func.coalesce(Report.reporter_id, -Report.id))))
        .join(Report, Report.ticket_id == Ticket.id)
        .where(Ticket.resolved_at >= period.start, Ticket.resolved_at < period.end, *conds)
        .group_by(Ticket.unit)
    )).all())

    tallies: dict[str, ikm.Tally] = {}
    for unit, element, score, n in counted:
        tallies.setdefault(unit or NONE_UNIT, ikm.Tally()).add(element, int(score), int(n))
    for unit, n in respondents.items():
        tallies.setdefault(unit or NONE_UNIT, ikm.Tally()).respondents = int(n)
    population = {(u or NONE_UNIT): int(n) for u, n in served.items()}
    total = ikm.Tally()
    for tally in tallies.values():
        total.merge(tally)
    return {
        **ikm.index(total, sum(population.values())),
        "units": [{"unit": u or None, **ikm.index(tallies[u], population.get(u, 0))}
                  for u in sorted(tallies, key=lambda u: (u == NONE_UNIT, u))],
    }
