"""`retry` in config.yaml: how long to wait before trying again.

Both waits grow exponentially with full jitter (aggregator/runtime/backoff.py): the
n-th wait is drawn between half and all of `min(max, initial * 2^(n-1))`, so many
failures at once do not retry in step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from aggregator.sections import Duration, Section


def _checked(value: timedelta, info: ValidationInfo, ceiling: timedelta, why: str
             ) -> timedelta:
    """At most `ceiling` (`why` says what a longer wait would mean); `max` is at
    least `initial`."""
    if value > ceiling:
        raise ValueError(f"at most {_text(ceiling)}: {why}")
    initial = info.data.get("initial")
    if info.field_name == "max" and isinstance(initial, timedelta) and value < initial:
        raise ValueError(f"must be at least `initial` ({_text(initial)})")
    return value


def _text(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class _Backoff(Section):
    """`initial` and `max` of one backoff, each at most CEILING (WHY says what a longer
    wait would mean), `max` at least `initial`."""

    CEILING: ClassVar[timedelta]
    WHY: ClassVar[str]

    @field_validator("initial", "max", check_fields=False)
    @classmethod
    def _bounds(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        return _checked(value, info, cls.CEILING, cls.WHY)


class RestartBackoff(_Backoff):
    """A connector or job that crashed is restarted after this (the others go on).
    The count of crashes starts over after a minute of running."""

    CEILING = timedelta(hours=1)
    WHY = "a crashed channel would stay down that long"
    initial: Duration = timedelta(seconds=1)
    # Checked even when left out: a larger `initial` needs a larger `max` too.
    max: Duration = Field(timedelta(seconds=60), validate_default=True)


class DeliveryBackoff(_Backoff):
    """An outbox message whose send failed is tried again after this; after
    `max_attempts` failures it is dead (`aggregator outbox retry ID` sends it again)."""

    CEILING = timedelta(days=1)
    WHY = "a reply to a reporter would wait that long between tries"
    initial: Duration = timedelta(seconds=2)
    max: Duration = Field(timedelta(minutes=30), validate_default=True)
    max_attempts: int = Field(25, ge=1, le=1000)


class RetrySettings(Section):
    restart: RestartBackoff = RestartBackoff()
    delivery: DeliveryBackoff = DeliveryBackoff()
