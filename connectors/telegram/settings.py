"""Config schema of one `telegram` connector (one bot).

Everything an operator may tune lives here; the defaults suit one agency's public bot
on long polling. The token is a secret: write `token: ${TELEGRAM_BOT_TOKEN}`.
"""

from __future__ import annotations

import hmac
import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from aggregator.config import (
    BaseUrl,
    ConnectorSettings,
    OptionalHttpUrl,
    Secret,
    Section,
    is_placeholder,
)

# The Bot API allows 1-256 of these in secret_token; we ask for 16 or more, so the
# secret cannot be guessed by trying.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")


class UserRateLimit(Section):
    """At most `messages` per `per_seconds` from one user; the rest are not ticketed
    and the user is told once per window. `messages: 0` turns the limit off."""

    messages: int = Field(8, ge=0)
    per_seconds: float = Field(60.0, gt=0)


class TelegramSettings(ConnectorSettings):
    type: Literal["telegram"] = "telegram"
    token: Secret = Field(min_length=1)
    # Passed to python-telegram-bot as `{api_base_url}/bot` (and `/file/bot` for files).
    api_base_url: BaseUrl = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    # Webhook mode: Telegram sends it as X-Telegram-Bot-Api-Secret-Token.
    webhook_secret: Secret | None = None
    # Webhook mode: the public URL Telegram posts to. Default: web.public_url + path.
    webhook_url: OptionalHttpUrl = None
    # Webhook mode: our route (default /hooks/{connector name}).
    webhook_path: str | None = None
    # Long-poll length of one getUpdates call, and a pause between calls.
    poll_timeout: int = Field(30, ge=0, le=50)
    poll_interval: float = Field(0.0, ge=0, le=60)
    # Default conversation language; each user may switch with /lang.
    language: Literal["id", "en"] = "id"
    # Shown in the greeting ("Layanan pengaduan {agency_name}").
    agency_name: str | None = None
    # A message within this many minutes of the user's last contact on an open ticket
    # joins that ticket (0 = every message is a new complaint unless it is a reply).
    followup_window_minutes: float = Field(30.0, ge=0)
    # An unanswered "which ticket?" question becomes a new ticket after this long.
    choice_timeout_minutes: float = Field(60.0, gt=0)
    rate_limit: UserRateLimit = UserRateLimit()
    # Files above this size keep only their metadata (the Bot API serves up to 20 MB).
    max_file_bytes: int = Field(10 * 1024 * 1024, ge=0, le=20 * 1024 * 1024)
    # Telegram user ids or @usernames whose messages are ignored.
    banned_users: tuple[str, ...] = ()
    # Ask for an IKM rating (1-4) when a ticket is resolved.
    survey: bool = True

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith("/") or "{" in value:
            raise ValueError("must start with / (e.g. /hooks/telegram)")
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        # Checked before SecretStr wraps it, so the message never echoes the value.
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not SECRET_TOKEN.fullmatch(value):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ or - "
                             "(e.g. `openssl rand -hex 32`)")
        if info.data.get("enabled", True) and is_placeholder(value):
            raise ValueError("is a placeholder from a template, known to anyone: set a "
                             "long random value (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("banned_users", mode="before")
    @classmethod
    def _banned(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().lower() for v in value if str(v).strip())
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.mode == "webhook" and self.webhook_secret is None:
            raise ValueError("webhook mode needs webhook_secret (checked on every delivery)")
        return self

    def secret_token_matches(self, given: str) -> bool:
        """Whether an X-Telegram-Bot-Api-Secret-Token header is ours, in constant time.
        Any header text works (aiohttp keeps undecodable bytes as surrogates)."""
        if self.webhook_secret is None:
            return False
        expected = self.webhook_secret.get_secret_value().encode("ascii")
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected)

    @property
    def api_root(self) -> str:
        return self.api_base_url.rstrip("/")

    def is_banned(self, user_id: int | str, username: str | None) -> bool:
        if not self.banned_users:
            return False
        keys = {str(user_id)}
        if username:
            keys.add("@" + username.lower())
        return bool(keys & set(self.banned_users))
