"""Working time for many tickets at once agrees with the SLA calendar; percentiles and
SLA outcomes on numbers worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from aggregator.monitoring import timing
from aggregator.sla.calendar import Calendar

OFFICE = Calendar(zone="Asia/Jakarta", hours=(time(8), time(16)),
                  holidays=frozenset({date(2026, 11, 17)}))
NAN = float("nan")


def at(text: str) -> float:
    """A Jakarta wall-clock time (UTC+7) as epoch seconds."""
    return (datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=7)).timestamp()


def test_working_clock_agrees_with_calendar_between():
    rng = random.Random(7)
    base = datetime(2026, 10, 25, tzinfo=UTC)
    starts, ends = [], []
    for _ in range(400):
        a = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        b = a + timedelta(minutes=rng.randrange(-600, 60 * 24 * 12))
        starts.append(a)
        ends.append(b)
    for cal in (OFFICE, Calendar(zone="Asia/Makassar"),
                Calendar(zone="Europe/Berlin", hours=(time(9), time(17)))):  # DST on 25/10
        s = np.array([x.timestamp() for x in starts])
        e = np.array([x.timestamp() for x in ends])
        got = timing.WorkingClock(cal, s, e).between(s, e)
        want = [cal.between(a, b).total_seconds() for a, b in zip(starts, ends, strict=True)]
        assert np.allclose(got, want, atol=1e-3), cal


def test_working_hours_by_hand():
    # Friday 13 Nov 15:00 -> Monday 16 Nov 09:00: 1 h on Friday + 1 h on Monday = 2 h.
    # Monday 16 Nov 15:00 -> Wednesday 18 Nov 09:00: 1 h + (17 Nov a holiday) + 1 h = 2 h.
    # Saturday 14 Nov 10:00 -> Saturday 14 Nov 12:00: closed, 0 h. Missing end: NaN.
    s = np.array([at("2026-11-13T15:00"), at("2026-11-16T15:00"), at("2026-11-14T10:00"),
                  at("2026-11-16T10:00")])
    e = np.array([at("2026-11-16T09:00"), at("2026-11-18T09:00"), at("2026-11-14T12:00"), NAN])
    got = timing.WorkingClock(OFFICE, s, e).between(s, e) / 3600
    assert got[:3].tolist() == [2.0, 2.0, 0.0] and np.isnan(got[3])


def test_percentiles_interpolate_between_order_statistics():
    hours = np.array([1.0, 2.0, 3.0, 4.0, NAN]) * 3600
    # Median of 1, 2, 3, 4 = 2.5; 90th: rank 0.9 x (4 - 1) = 2.7 -> 3 + 0.7 x (4 - 3) = 3.7.
    assert timing.durations(hours) == {"count": 4, "median_hours": 2.5, "p90_hours": 3.7,
                                       "median_seconds": 9000.0, "p90_seconds": 13320.0}
    assert timing.durations(np.array([NAN])) == {
        "count": 0, "median_hours": None, "p90_hours": None, "median_seconds": None,
        "p90_seconds": None}


def test_sla_outcomes():
    now = 1000.0
    done = np.array([50.0, 150.0, NAN, NAN, 10.0])
    due = np.array([100.0, 100.0, 500.0, 900.0, NAN])
    now_late = timing.sla_outcomes(done, due, now)
    assert now_late.tolist() == [timing.MET, timing.BREACHED, timing.BREACHED,
                                 timing.BREACHED, timing.NO_TARGET]
    early = timing.sla_outcomes(done, due, 200.0)
    assert early.tolist() == [timing.MET, timing.BREACHED, timing.PENDING, timing.PENDING,
                              timing.NO_TARGET]
