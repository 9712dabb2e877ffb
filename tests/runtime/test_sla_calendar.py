"""Working time as an agency counts it: WIB office hours, weekends and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from aggregator.sla.calendar import Calendar, parse_duration, parse_hours

WIB = Calendar(zone="Asia/Jakarta", hours=(time(8), time(16)),
               holidays=frozenset({date(2026, 12, 25)}))


def wib(y, mo, d, h, mi=0) -> datetime:
    from zoneinfo import ZoneInfo
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("Asia/Jakarta"))


def test_durations_and_hours_parse_or_say_why():
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("4h") == timedelta(hours=4)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(24) == timedelta(hours=24)
    for bad in ("", "4 hours", "-1h", "0m", "h4"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_hours("08:00-16:00") == (time(8), time(16))
    with pytest.raises(ValueError):
        parse_hours("16:00-08:00")


def test_adding_working_time_skips_nights_weekends_and_holidays():
    # Friday 15:00 WIB + 2 working hours -> Monday 09:00 WIB.
    assert WIB.add(wib(2026, 12, 4, 15), timedelta(hours=2)) == wib(2026, 12, 7, 9)
    # Before opening: counting starts at 08:00.
    assert WIB.add(wib(2026, 12, 7, 6), timedelta(minutes=15)) == wib(2026, 12, 7, 8, 15)
    # Thursday 24 Dec 15:00 + 3h: Friday 25th is a holiday -> Monday 28th 10:00.
    assert WIB.add(wib(2026, 12, 24, 15), timedelta(hours=3)) == wib(2026, 12, 28, 10)
    # The result is UTC (WIB is UTC+7).
    assert WIB.add(wib(2026, 12, 7, 8), timedelta(hours=1)) == datetime(2026, 12, 7, 2,
                                                                        tzinfo=UTC)


def test_measuring_working_time_between_two_moments():
    assert WIB.between(wib(2026, 12, 4, 15), wib(2026, 12, 7, 9)) == timedelta(hours=2)
    assert WIB.between(wib(2026, 12, 7, 9), wib(2026, 12, 7, 9)) == timedelta(0)
    assert WIB.between(wib(2026, 12, 5, 9), wib(2026, 12, 6, 20)) == timedelta(0)  # weekend
    around = Calendar()
    start = datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert around.add(start, timedelta(hours=30)) == start + timedelta(hours=30)
