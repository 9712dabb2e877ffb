"""All figures of one period as one JSON-ready dict: what GET /api/stats answers, what
the dashboard and the monthly report draw, what the CSV exports flatten."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.monitoring import activity, figures
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.satisfaction import satisfaction
from storage.accounts import Principal
from storage.types import utcnow


async def compute(session: AsyncSession, settings: Settings, period: Period, scope: Scope,
                  principal: Principal, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    rules = settings.access
    cohort, _ = await figures.load_cohort(session, period, scope, principal, rules)
    measured = figures.measure(cohort, period, now.timestamp())
    reports = await figures.daily_reports(session, period, scope, principal, rules)
    return {
        "period": period.as_dict(),
        "scope": scope.as_dict(),
        "generated_at": now.isoformat(timespec="seconds"),
        "working_hours": not period.cal.around_the_clock,
        "volume": figures.volume(cohort, reports, period),
        "response_times": figures.times(measured),
        "sla": figures.slas(measured),
        "units": figures.units(cohort, measured),
        "backlog": await figures.backlog(session, scope, principal, rules, now),
        "escalations": await activity.escalations(session, period, scope, principal, rules),
        "recurring": await activity.recurring(session, period, scope, principal, rules,
                                              cohort),
        "satisfaction": await satisfaction(session, period, scope, principal, rules),
    }
