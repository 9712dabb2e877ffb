"""Durations in the agency's working time, percentiles and SLA outcomes, for many
tickets at once.

`Calendar.between` (aggregator/sla/calendar.py) defines working time; measuring a year
of tickets with it one pair at a time walks every day between the two moments, so
`WorkingClock` asks the calendar once per local day (how much working time the day
holds and where it starts) and then answers for arrays of moments with numpy: the
working time from an origin to a moment is the whole days before it plus the part of
its own day. The two agree to the microsecond (tests/monitoring/test_timing.py).

Moments are seconds since the epoch (float, NaN for "never").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.sla.calendar import Calendar

Floats = npt.NDArray[np.float64]
HOUR = 3600.0


def local_midnight(day: date, cal: Calendar) -> datetime:
    return datetime.combine(day, time(0), cal.tz)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(frozen=True)
class DayTable:
    """Local days of the calendar's zone from `first` on: where each starts (epoch),
    and for working time, where its working span starts and how long it is."""

    first: date
    starts: Floats  # local midnight of each day, plus the one after the last
    open_at: Floats
    work: Floats  # working seconds in the day
    before: Floats  # working seconds from the first day's midnight to this day's

    @classmethod
    def build(cls, cal: Calendar, first: date, last: date) -> DayTable:
        days = [first + timedelta(days=i) for i in range((last - first).days + 2)]
        mids = [local_midnight(d, cal) for d in days]
        starts = np.array([epoch(m) for m in mids], dtype=np.float64)
        n = len(days) - 1
        open_at = starts[:-1].copy()
        work = np.zeros(n)
        if not cal.around_the_clock:
            for i in range(n):
                span = cal.between(mids[i], mids[i + 1]).total_seconds()
                if span > 0:
                    work[i] = span
                    open_at[i] = epoch(cal.add_working_time(mids[i], timedelta(0)))
        else:
            work = np.diff(starts)
        before = np.concatenate(([0.0], np.cumsum(work)[:-1]))
        return cls(first, starts, open_at, work, before)

    def index(self, moments: Floats) -> npt.NDArray[np.int64]:
        """The day each moment falls on (0 = `first`); clipped to the table."""
        i = np.searchsorted(self.starts, moments, side="right") - 1
        return np.clip(i, 0, len(self.work) - 1).astype(np.int64)


class WorkingClock:
    """Working time between arrays of moments under one calendar."""

    def __init__(self, cal: Calendar, *moments: Floats):
        self.cal = cal
        self.table: DayTable | None = None
        if cal.around_the_clock:
            return
        known = np.concatenate([m[~np.isnan(m)] for m in moments]) if moments else np.array([])
        if known.size:
            self.table = DayTable.build(cal, _local_date(float(known.min()), cal),
                                        _local_date(float(known.max()), cal))

    def since_origin(self, moments: Floats) -> Floats:
        assert self.table is not None
        t = self.table
        i = t.index(moments)
        inside = np.clip(moments - t.open_at[i], 0.0, t.work[i])
        return t.before[i] + inside

    def between(self, start: Floats, end: Floats) -> Floats:
        """Working seconds from start to end (0 when end is before start; NaN when
        either is missing)."""
        if self.cal.around_the_clock or self.table is None:
            out = end - start
        else:
            out = self.since_origin(end) - self.since_origin(start)
        return np.where(np.isnan(out), np.nan, np.maximum(out, 0.0))


class Days:
    """Local days as numbers (days since 1970-01-01 on the agency's clock), under the
    calendar zone's UTC offset now: exact for zones without daylight saving time (all
    of Indonesia's); elsewhere a moment within an hour of midnight may land on the
    neighbouring day."""

    EPOCH = date(1970, 1, 1)

    def __init__(self, cal: Calendar, at: datetime | None = None):
        moment = at or datetime.now(UTC)
        self.offset = (moment.astimezone(cal.tz).utcoffset() or timedelta(0)).total_seconds()

    def of(self, moments: Floats) -> npt.NDArray[np.int64]:
        return np.floor((moments + self.offset) / 86400.0).astype(np.int64)

    def of_one(self, moment: float) -> int:
        return int((moment + self.offset) // 86400)

    def start(self, day: int) -> datetime:
        """The UTC moment the local day begins."""
        return datetime.fromtimestamp(day * 86400.0 - self.offset, UTC)

    def number(self, d: date) -> int:
        return (d - self.EPOCH).days

    def date(self, day: int) -> date:
        return self.EPOCH + timedelta(days=day)


def _local_date(moment: float, cal: Calendar) -> date:
    return datetime.fromtimestamp(moment, UTC).astimezone(cal.tz).date()


def percentiles(values: Floats, qs: tuple[float, ...] = (50.0, 90.0)) -> list[float | None]:
    """Percentiles of the known values, linearly interpolated between order statistics
    (numpy's default, PostgreSQL's percentile_cont): the median of 1, 2, 3, 4 is 2.5."""
    known = values[~np.isnan(values)]
    if not known.size:
        return [None for _ in qs]
    return [float(v) for v in np.percentile(known, qs)]


def durations(values: Floats) -> dict[str, Any]:
    """Count, median and 90th percentile of durations given in seconds: in hours (two
    decimals, for people) and in seconds (for scripts)."""
    median, p90 = percentiles(values)
    return {
        "count": int(np.count_nonzero(~np.isnan(values))),
        "median_hours": None if median is None else round(median / HOUR, 2),
        "p90_hours": None if p90 is None else round(p90 / HOUR, 2),
        "median_seconds": None if median is None else round(median, 3),
        "p90_seconds": None if p90 is None else round(p90, 3),
    }


MET, BREACHED, PENDING, NO_TARGET = 0, 1, 2, 3


def sla_outcomes(done: Floats, due: Floats, now: float) -> npt.NDArray[np.int8]:
    """Per ticket: MET (done by the due time), BREACHED (done late, or not done and
    past due), PENDING (not done, not yet due) or NO_TARGET (no due time)."""
    out = np.full(done.shape, PENDING, dtype=np.int8)
    finished = ~np.isnan(done)
    out[finished & (done <= due)] = MET
    out[(finished & (done > due)) | (~finished & (due < now))] = BREACHED
    out[np.isnan(due)] = NO_TARGET
    return out
