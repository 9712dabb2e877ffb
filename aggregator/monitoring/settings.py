"""`monitoring` in config.yaml: the figures pages, the satisfaction survey's signed
links and the Prometheus endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from aggregator.sections import Duration, Secret, Section, is_placeholder

MIN_SECRET = 16
GENERATE = "generate"


def _strong(value: object, info: ValidationInfo, *, allow_generate: bool) -> object:
    """A secret of at least 16 characters that no template ships with; checked before
    SecretStr wraps it, so an error never repeats the value."""
    if value is None or value == "":
        return None
    if allow_generate and value == GENERATE:
        return value
    if not isinstance(value, str) or len(value) < MIN_SECRET:
        raise ValueError(f"must be a string of at least {MIN_SECRET} characters "
                         "(e.g. `openssl rand -hex 32`)")
    if info.data.get("enabled", True) and is_placeholder(value):
        raise ValueError("is a placeholder from a template, known to anyone: set a long "
                         "random value (e.g. `openssl rand -hex 32`)")
    return value


class MetricsSettings(Section):
    """`GET /metrics` (Prometheus text format). With `token`, a scraper must send
    `Authorization: Bearer TOKEN`; without, the endpoint is as private as `web.host`
    makes it. `enabled: false` removes it."""

    enabled: bool = True
    token: Secret | None = None

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: object, info: ValidationInfo) -> object:
        return _strong(value, info, allow_generate=False)


class SurveySettings(Section):
    """The satisfaction survey form (`/survey/{token}`) that e-mail, LAPOR callbacks and
    the Telegram bot link to when a ticket is resolved. Links are signed with `secret`
    (HMAC-SHA256); `generate` keeps a random one in `<data_dir>/secrets/survey.secret`."""

    enabled: bool = True
    secret: Secret = Field(default=GENERATE, validate_default=True)
    link_days: int = Field(60, ge=1, le=3650)  # a link works this long after it is sent

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        return _strong(value, info, allow_generate=True) or GENERATE


class MonitoringSettings(Section):
    enabled: bool = True
    language: Literal["id", "en"] = "id"  # of the dashboard and reports unless ?lang=
    # How often the figure cells catch up with changes in the background (figures
    # requests catch up themselves too).
    refresh_interval: Duration = timedelta(seconds=60)
    metrics: MetricsSettings = MetricsSettings()
    survey: SurveySettings = SurveySettings()
