"""`tickets.sla` in config.yaml: resolution targets by priority (the keys low..urgent,
numbers are hours), first-response targets, and the working calendar they count in."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from aggregator.domain import Priority
from aggregator.sections import Duration, Section
from aggregator.sla.calendar import WEEKDAYS, Calendar, parse_hours
from aggregator.sla.clock import Targets

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class CalendarSettings(Section):
    """Where SLA time is counted. Without `working_hours`, every hour counts (24/7)."""

    timezone: str = "Asia/Jakarta"  # WIB; Asia/Makassar is WITA, Asia/Jayapura WIT
    working_hours: str | None = None  # e.g. "08:00-16:00"
    workdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Jakarta)") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value:
            parse_hours(value)
        return value or None

    def calendar(self) -> Calendar:
        return Calendar(
            zone=self.timezone,
            hours=parse_hours(self.working_hours) if self.working_hours else None,
            workdays=frozenset(WEEKDAYS.index(d) for d in self.workdays),
            holidays=frozenset(self.holidays),
        )


class FirstResponseSettings(Section):
    low: Duration = timedelta(days=3)
    normal: Duration = timedelta(days=1)
    high: Duration = timedelta(hours=4)
    urgent: Duration = timedelta(hours=1)


class SlaSettings(Section):
    """Time to resolve, by priority (Permenpan-RB style targets are set per agency)."""

    low: Duration = timedelta(hours=168)
    normal: Duration = timedelta(hours=72)
    high: Duration = timedelta(hours=24)
    urgent: Duration = timedelta(hours=4)
    first_response: FirstResponseSettings = FirstResponseSettings()
    calendar: CalendarSettings = CalendarSettings()

    @functools.cached_property
    def targets(self) -> Targets:
        return Targets(
            first_response={p: getattr(self.first_response, p.name.lower()) for p in Priority},
            resolution={p: getattr(self, p.name.lower()) for p in Priority},
            calendar=self.calendar.calendar(),
        )
