"""Working time: adding a working duration to a moment, and measuring working time
between two moments, in the agency's time zone (WIB, WITA, WIT...).

Pure functions over a `Calendar`; no I/O. Moments are aware datetimes (UTC in, UTC out).
A calendar with no working hours set counts every minute (24/7 services: ambulances,
call centres). With working hours, a target in days counts working days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: str | float | int) -> timedelta:
    """`30s`, `15m`, `4h`, `3d`, `1w`, or a number of hours."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(hours=float(value))
    found = _DURATION.match(str(value))
    if not found:
        raise ValueError(f"{value!r} is not a duration like 15m, 4h or 3d")
    seconds = float(found.group(1)) * _UNITS[found.group(2).lower()]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Calendar:
    zone: str = "Asia/Jakarta"
    # Working hours each working day, e.g. (time(8), time(16)); None: around the clock.
    hours: tuple[time, time] | None = None
    workdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def around_the_clock(self) -> bool:
        return self.hours is None

    def _open_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def _spans(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working spans (local time) from the day of `start` on, forever."""
        assert self.hours is not None
        day = start.date()
        while True:
            if self._open_day(day):
                a = datetime.combine(day, self.hours[0], self.tz)
                b = datetime.combine(day, self.hours[1], self.tz)
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The deadline `duration` after `start` as an agency counts it: whole days are
        working days ("3 hari kerja": the same time three working days on), the rest is
        working time."""
        if self.around_the_clock:
            return start + duration
        local = self._next_working(start.astimezone(self.tz))
        for _ in range(duration.days):
            day = local.date() + timedelta(days=1)
            while not self._open_day(day):
                day += timedelta(days=1)
            local = datetime.combine(day, local.time(), self.tz)
        return self.add_working_time(local, duration - timedelta(days=duration.days))

    def _next_working(self, local: datetime) -> datetime:
        a, _ = next(iter(self._spans(local)))
        return a

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time (hours that count) after `start`."""
        if self.around_the_clock:
            return start + duration
        left = duration
        local = start.astimezone(self.tz)
        for i, (a, b) in enumerate(self._spans(local)):
            if b - a >= left:
                return (a + left).astimezone(UTC)
            left -= b - a
            if i > 3660:  # ten years of closed days: a calendar with no working time
                raise ValueError("the calendar has no working time")
        raise AssertionError("unreachable")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero if end is before start)."""
        if end <= start:
            return timedelta(0)
        if self.around_the_clock:
            return end - start
        total = timedelta(0)
        stop = end.astimezone(self.tz)
        for a, b in self._spans(start.astimezone(self.tz)):
            if a >= stop:
                break
            total += min(b, stop) - a
        return total


def parse_hours(value: str) -> tuple[time, time]:
    """`08:00-16:00`."""
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if not found:
        raise ValueError(f"{value!r} is not working hours like 08:00-16:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    a, b = time(h1, m1), time(h2 % 24, m2)
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h2 != 24 and b <= a):
        raise ValueError(f"{value!r}: the end must come after the start")
    return a, (b if h2 != 24 else time(23, 59, 59, 999999))
