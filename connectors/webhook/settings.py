"""Config schema of one `webhook` connector instance (LAPOR!, an SMS gateway, a web form).

Each instance has its own path and its own secret, so one leaked secret (or one noisy
sender) never affects the others.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from aggregator.config import ConnectorSettings, OptionalHttpUrl, Section

MIN_SECRET = 16


class RateLimit(Section):
    """Token buckets: `rate` requests a second on average, up to `burst` at once.

    `per_client_*` applies per client address before the signature is checked (it
    stops a flood from one address cheaply); `rate`/`burst` apply to the whole
    connector after the signature is checked, so unsigned junk cannot use up the
    real source's allowance. `0` turns a bucket off.
    """

    rate: float = Field(200.0, ge=0)
    burst: int = Field(400, ge=0)
    per_client_rate: float = Field(100.0, ge=0)
    per_client_burst: int = Field(200, ge=0)


class WebhookSettings(ConnectorSettings):
    type: Literal["webhook"] = "webhook"
    # HMAC-SHA256 key shared with the sender. Use `secret: ${LAPOR_SECRET}`.
    secret: SecretStr
    # Still accepted while a sender moves to the new `secret` (rotation).
    previous_secrets: tuple[SecretStr, ...] = ()
    # A timestamp further than this from our clock is refused (replay protection).
    replay_window_seconds: int = Field(300, ge=1, le=86_400)
    max_body_bytes: int = Field(1024 * 1024, gt=0, le=64 * 1024 * 1024)
    rate_limit: RateLimit = RateLimit()
    # Where staff replies and state changes are POSTed back (LAPOR-style follow-up).
    callback_url: OptionalHttpUrl = None
    # Key that signs callbacks; defaults to `secret`.
    callback_secret: SecretStr | None = None
    callback_timeout: float = Field(10.0, gt=0, le=300)
    # Mount point instead of /hooks/{connector name}.
    path: str | None = None

    @field_validator("secret", "callback_secret", "previous_secrets", mode="before")
    @classmethod
    def _strong(cls, value: object) -> object:
        # Checked before SecretStr wraps it, so the message never echoes the value.
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is None:
                continue
            if not isinstance(one, str) or len(one) < MIN_SECRET:
                raise ValueError(f"must be a string of at least {MIN_SECRET} characters "
                                 "(use a long random value, e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith("/") or value.endswith("/") or "{" in value:
            raise ValueError("must start with / and not end with / (e.g. /lapor/intake)")
        return value

    def secrets(self) -> list[bytes]:
        """Every key a delivery may be signed with, the current one first."""
        return [s.get_secret_value().encode() for s in (self.secret, *self.previous_secrets)]

    def signing_key(self) -> bytes:
        return (self.callback_secret or self.secret).get_secret_value().encode()
