"""Small pure rules about tickets that intake and staff actions share."""

from __future__ import annotations

from datetime import datetime, timedelta

from aggregator.config import Settings
from aggregator.domain import Priority, Report

TITLE_MAX = 120


def sla_hours(settings: Settings, priority: Priority) -> float:
    return float(getattr(settings.tickets.sla, priority.name.lower()))


def sla_due(settings: Settings, priority: Priority, start: datetime) -> datetime:
    return start + timedelta(hours=sla_hours(settings, priority))


def make_title(report: Report) -> str:
    text = (report.title or "").strip() or report.text.strip()
    first = " ".join(text.split())
    if len(first) > TITLE_MAX:
        first = first[: TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"
    return first or "(tanpa teks)"
