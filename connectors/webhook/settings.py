"""Config schema of one `webhook` connector instance (LAPOR!, an SMS gateway, a web form).

Each instance has its own path and its own secret, so one leaked secret (or one noisy
sender) never affects the others.

`secret: generate` (what the bundled config.yaml falls back to when LAPOR_SECRET is
unset) means: a random secret made on the first start and kept in
`<data_dir>/secrets/<connector>.secret` (mode 600). Any other value must be a real
secret: at least 16 characters and not a known placeholder such as
`change-me-in-production`, so a template value can never open the intake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator

from aggregator.config import (
    ConnectorSettings,
    OptionalHttpUrl,
    Secret,
    Section,
    WebSettings,
    is_placeholder,
)
from aggregator.secretfile import generated_secret

MIN_SECRET = 16
GENERATE = "generate"


class RateLimit(Section):
    """Token buckets: `rate` requests a second on average, up to `burst` at once.

    `per_client_*` applies per client address before the signature is checked (it
    stops a flood from one address cheaply); `rate`/`burst` apply to the whole
    connector after the signature is checked, so unsigned junk cannot use up the
    real source's allowance. `0` turns a bucket off.

    The limits hold for the whole deployment: with N processes on one database each
    enforces `rate / N` and `burst // N` (at least 1), see connectors/webhook/ratelimit.py.
    """

    rate: float = Field(200.0, ge=0)
    burst: int = Field(400, ge=0)
    per_client_rate: float = Field(100.0, ge=0)
    per_client_burst: int = Field(200, ge=0)


class WebhookSettings(ConnectorSettings):
    type: Literal["webhook"] = "webhook"
    # HMAC-SHA256 key shared with the sender. Use `secret: ${LAPOR_SECRET}`, or
    # `generate` for one made on the first start and kept in the data folder.
    secret: Secret
    # Still accepted while a sender moves to the new `secret` (rotation).
    previous_secrets: tuple[Secret, ...] = ()
    # A timestamp further than this from our clock is refused (replay protection).
    replay_window_seconds: int = Field(300, ge=1, le=86_400)
    max_body_bytes: int = Field(1024 * 1024, gt=0, le=64 * 1024 * 1024)
    rate_limit: RateLimit = RateLimit()
    # Where staff replies and state changes are POSTed back (LAPOR-style follow-up).
    callback_url: OptionalHttpUrl = None
    # Key that signs callbacks; defaults to `secret`.
    callback_secret: Secret | None = None
    callback_timeout: float = Field(10.0, gt=0, le=300)
    # Mount point instead of /hooks/{connector name}.
    path: str | None = None

    _secret_file: Path | None = PrivateAttr(None)
    _how_to_reach: str = PrivateAttr("http://127.0.0.1:8080")
    _hook_path: str = PrivateAttr("/hooks/webhook")

    @field_validator("secret", "callback_secret", "previous_secrets", mode="before")
    @classmethod
    def _strong(cls, value: object, info: ValidationInfo) -> object:
        # Checked before SecretStr wraps it, so the message never echoes the value.
        enabled = info.data.get("enabled", True)
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is None or (info.field_name == "secret" and one == GENERATE):
                continue
            if not isinstance(one, str) or len(one) < MIN_SECRET:
                raise ValueError(f"must be a string of at least {MIN_SECRET} characters "
                                 "(use a long random value, e.g. `openssl rand -hex 32`)")
            if enabled and is_placeholder(one):
                raise ValueError("is a placeholder from a template, known to anyone: set a "
                                 "long random value (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith("/") or value.endswith("/") or "{" in value:
            raise ValueError("must start with / and not end with / (e.g. /lapor/intake)")
        return value

    @model_validator(mode="after")
    def _where_generated(self, info: ValidationInfo) -> WebhookSettings:
        context: dict[str, Any] = info.context or {}
        name = context.get("connector") or "webhook"
        self._hook_path = self.path or f"/hooks/{name}"
        if self.secret.get_secret_value() == GENERATE:
            data_dir = Path(context.get("data_dir") or "data")
            self._secret_file = data_dir / "secrets" / f"{name}.secret"
        web = context.get("web")
        if isinstance(web, WebSettings):
            host = "127.0.0.1" if web.host in ("", "0.0.0.0", "::") else web.host
            self._how_to_reach = (web.public_url or f"http://{host}:{web.port}").rstrip("/")
        return self

    @property
    def secret_file(self) -> Path | None:
        """Where a generated secret lives (None when the config gives the secret)."""
        return self._secret_file

    def current_secret(self) -> SecretStr:
        """The configured secret, or the generated one (made on first use)."""
        if self._secret_file is None:
            return self.secret
        return SecretStr(generated_secret(self._secret_file,
                                          self._how_to_reach + self._hook_path))

    def secrets(self) -> list[bytes]:
        """Every key a delivery may be signed with, the current one first."""
        keys = (self.current_secret(), *self.previous_secrets)
        return [s.get_secret_value().encode() for s in keys]

    def signing_key(self) -> bytes:
        return (self.callback_secret or self.current_secret()).get_secret_value().encode()
