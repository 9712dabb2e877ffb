"""What a figure is about: a period of local days, optionally one unit or channel,
seen by one principal (agents see their units, aggregator/tickets/access.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.monitoring.timing import local_midnight
from aggregator.sla.calendar import Calendar

MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period or filter the caller asked for is malformed (400)."""


@dataclass(frozen=True)
class Period:
    """Local days `first`..`last` (inclusive) in the calendar's time zone."""

    first: date
    last: date
    cal: Calendar

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.cal).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return local_midnight(self.last + timedelta(days=1), self.cal).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def month(self) -> str | None:
        """`2026-11` when the period is exactly one calendar month."""
        if self.first.day != 1 or (self.last + timedelta(days=1)).day != 1:
            return None
        return self.first.strftime("%Y-%m") if self.first.month == self.last.month else None

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                "timezone": self.cal.zone, "days": self.days, "month": self.month}


def month_period(value: str, cal: Calendar) -> Period:
    found = _MONTH.match(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise PeriodError(f"month must look like 2026-11 (got {value[:20]!r})")
    first = date(int(found.group(1)), int(found.group(2)), 1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(first, nxt - timedelta(days=1), cal)


def parse_period(params: Mapping[str, str], cal: Calendar, today: date | None = None
                 ) -> Period:
    """`month=2026-11`, or `from=2026-11-01&to=2026-11-30` (either may be left out),
    else the last 30 days up to today (local)."""
    if params.get("month"):
        return month_period(params["month"], cal)
    today = today or datetime.now(cal.tz).date()
    last = _day(params.get("to"), "to") or today
    first = _day(params.get("from"), "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise PeriodError("`to` is before `from`")
    if (last - first).days >= MAX_DAYS:
        raise PeriodError(f"a period is at most {MAX_DAYS} days")
    return Period(first, last, cal)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(f"{name} must be a date like 2026-11-01") from None


@dataclass(frozen=True)
class Scope:
    """Optional filters: tickets of one unit, tickets that came in through one channel."""

    unit: str | None = None
    channel: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Scope:
        unit = (params.get("unit") or "").strip() or None
        channel = (params.get("channel") or "").strip() or None
        for name, value in (("unit", unit), ("channel", channel)):
            if value is not None and len(value) > 100:
                raise PeriodError(f"{name} is at most 100 characters")
        return cls(unit, channel)

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "channel": self.channel}
