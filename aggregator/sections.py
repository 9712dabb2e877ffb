"""The building blocks of config sections: the base class and the value types that
every section shares (paths, URLs, secrets, durations). Feature folders define their
own sections from these; `aggregator.config` composes them into one `Settings`."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo
from pydantic.functional_validators import AfterValidator, BeforeValidator

from aggregator.sla.calendar import parse_duration


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one line per bad key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Section(BaseModel):
    """Base for every config section: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return (Path(base) / value).resolve()
    return value


# A filesystem path; relative ones resolve against the config file's folder.
ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _optional(value: object) -> object:
    return None if value == "" else value


def _secret_text(value: object) -> object:
    # YAML turns `12345678`, `yes` or `0x1F` into numbers and booleans whose text is
    # lost; say so without echoing the value (it is a secret).
    if value is not None and not isinstance(value, str | SecretStr):
        raise ValueError("must be text: put the value in quotes, or better in an "
                         "environment variable (${VAR})")
    return value


# A password, token or key: never shown in repr, logs or error messages.
Secret = Annotated[SecretStr, BeforeValidator(_secret_text)]

# Values a template or an example ships with; a secret equal to one is public.
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "placeholder", "yoursecret", "mysecret",
                      "example", "secretkey", "notsecret", "insecure", "default", "dummy")
_PLACEHOLDERS = {"secret", "password", "token", "test", "todo", "xxx", "none", "null",
                 "0123456789abcdef", "1234567890123456", "abcdefghijklmnop"}


def is_placeholder(value: str) -> bool:
    """True for secrets a template or an example would ship with (so anyone knows them):
    `change-me-in-production`, `your-secret-here`, `xxxxxxxxxxxxxxxx`, ..."""
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    if len(set(folded)) <= 2:
        return True
    if folded in _PLACEHOLDERS or any(w in folded for w in _PLACEHOLDER_WORDS):
        return True
    return bool(re.fullmatch(r"(secret|password|token|test)+[0-9]*", folded))


HttpUrl = Annotated[str, AfterValidator(_http_url)]
# The same, where an empty value (an unset `${VAR:-}`) means "none".
OptionalHttpUrl = Annotated[HttpUrl | None, BeforeValidator(_optional)]
# The base URL of an API (paths are appended), without a trailing slash.
BaseUrl = Annotated[HttpUrl, AfterValidator(lambda v: v.rstrip("/"))]


def _duration(value: object) -> object:
    return value if isinstance(value, timedelta) else parse_duration(value)  # type: ignore[arg-type]


# `15m`, `4h`, `3d`, `1w`, or a number of hours.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


RoleName = Literal["agent", "supervisor", "admin"]
SEALED_ROLES: tuple[RoleName, ...] = ("supervisor", "admin")


class AccessSettings(Section):
    """`access`: who sees which tickets (see aggregator/tickets/access.py)."""

    agents_see: Literal["own_units", "all"] = "own_units"
    confidential_roles: list[RoleName] = Field(default_factory=lambda: list(SEALED_ROLES))
    integrity_units: list[str] = Field(default_factory=list)  # e.g. inspektorat
