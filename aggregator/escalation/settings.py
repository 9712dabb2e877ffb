"""`escalation` in config.yaml: ordered levels with triggers and actions, and the
targets notifications go to."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from aggregator.sections import Duration, HttpUrl, Secret, Section


class TriggerSettings(Section):
    """Every condition set must hold; a level fires when any of its triggers does."""

    virality_level: int | None = Field(None, ge=1, le=3)
    reports: int | None = Field(None, ge=1)
    within: Duration | None = None
    keywords: list[str] = Field(default_factory=list)
    first_response_due_within: Duration | None = None
    first_response_breached: bool = False
    resolution_breached: bool = False

    @model_validator(mode="after")
    def _something(self) -> TriggerSettings:
        if not (self.virality_level or self.reports or self.keywords or
                self.first_response_due_within or self.first_response_breached or
                self.resolution_breached):
            raise ValueError("a trigger needs at least one condition")
        if self.within is not None and self.reports is None:
            raise ValueError("`within` needs `reports`")
        return self


class LevelSettings(Section):
    name: str = Field(min_length=1, max_length=80)
    when: list[TriggerSettings] = Field(min_length=1)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    unit: str | None = Field(None, max_length=100)
    assignee: str | None = Field(None, max_length=100)
    notify: list[str] = Field(default_factory=list)
    repeat: Duration | None = None  # notify again until acknowledged


class TargetSettings(Section):
    """Through a connector (`connector` + `to`: a Telegram chat id, an e-mail address),
    or a signed JSON POST (`url` + `secret`)."""

    connector: str | None = None
    to: str | None = None
    url: HttpUrl | None = None
    secret: Secret | None = None

    @model_validator(mode="after")
    def _one_way(self) -> TargetSettings:
        by_connector = self.connector is not None or self.to is not None
        if by_connector == (self.url is not None):
            raise ValueError("set either `connector` and `to`, or `url` and `secret`")
        if by_connector and not (self.connector and self.to):
            raise ValueError("a connector target needs both `connector` and `to`")
        if self.url is not None and self.secret is None:
            raise ValueError("a webhook target needs a `secret` to sign with")
        return self


class EscalationSettings(Section):
    enabled: bool = False
    interval: Duration = timedelta(seconds=10)
    levels: list[LevelSettings] = Field(default_factory=list)
    targets: dict[str, TargetSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_targets(self) -> EscalationSettings:
        for i, level in enumerate(self.levels):
            unknown = [n for n in level.notify if n not in self.targets]
            if unknown:
                raise ValueError(f"levels.{i}.notify: no target named "
                                 f"{', '.join(map(repr, unknown))}")
        return self
