"""Due times of a ticket under the agency's targets, and the pause while it waits on
the reporter. Pure: the ticket's fields in, new values out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.domain import Priority
from aggregator.sla.calendar import Calendar


@dataclass(frozen=True)
class Targets:
    """Per-priority targets in working time."""

    first_response: dict[Priority, timedelta]
    resolution: dict[Priority, timedelta]
    calendar: Calendar

    def first_response_due(self, priority: Priority, start: datetime) -> datetime:
        return self.calendar.add(start, self.first_response[priority])

    def resolution_due(self, priority: Priority, start: datetime) -> datetime:
        return self.calendar.add(start, self.resolution[priority])

    def resumed(self, due: datetime, paused_at: datetime, now: datetime) -> datetime:
        """A due time pushed back by the working time spent waiting on the reporter."""
        waited = self.calendar.between(paused_at, now)
        return self.calendar.add_working_time(due, waited) if waited > timedelta(0) else due


def state(due: datetime | None, done_at: datetime | None, now: datetime,
          warn: timedelta = timedelta(0)) -> str:
    """`met`, `breached`, `due_soon` (within `warn`) or `running`."""
    if due is None:
        return "running"
    if done_at is not None:
        return "met" if done_at <= due else "breached"
    if now > due:
        return "breached"
    return "due_soon" if due - now <= warn else "running"
