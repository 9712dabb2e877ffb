"""All figures of one period as one JSON-ready dict: what GET /api/stats answers, what
the dashboard and the monthly report draw, what the CSV exports flatten. Read from the
figure cells; refresh them first (`Rollup.refresh`) for figures up to this moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.monitoring import figures, timing
from aggregator.monitoring.period import Period, Scope
from storage.accounts import Principal
from storage.types import utcnow


async def compute(session: AsyncSession, settings: Settings, period: Period, scope: Scope,
                  principal: Principal, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    rules = settings.access
    days = timing.Days(period.cal, now)
    f = await figures.compute(session, period, days, scope, principal, rules,
                              now.timestamp())
    return {
        "period": period.as_dict(),
        "scope": scope.as_dict(),
        "generated_at": now.isoformat(timespec="seconds"),
        "working_hours": not period.cal.around_the_clock,
        "volume": f["volume"],
        "response_times": f["response_times"],
        "sla": f["sla"],
        "units": f["units"],
        "backlog": await figures.backlog(session, scope, principal, rules,
                                         days.of_one(now.timestamp())),
        "escalations": f["escalations"],
        "recurring": {**await figures.titles(session, f["recurring"]),
                      "top_places": f["places"]},
        "satisfaction": f["satisfaction"],
    }
