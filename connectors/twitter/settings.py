"""Config schema of the `twitter` connector (X API v2 through tweepy).

X is paid per request, so the schema makes the spending explicit: every endpoint has a
budget, engagement refresh has its own interval and age limit, and nothing is posted
in public unless `reply_publicly` is switched on for the connector.
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aggregator.config import BaseUrl, ConnectorSettings, Secret, Section
from aggregator.domain import TicketState

DEFAULT_API = "https://api.twitter.com"

# The endpoints we call, as budget keys (one X rate-limit bucket each).
ENDPOINTS = ("mentions", "search", "lookup", "users", "create")

# Placeholders a public template may use. None of them can carry personal data:
# no names, handles, e-mail addresses or the citizen's own words.
ACK_FIELDS = frozenset({"ticket_number", "private_channel"})
STATUS_FIELDS = frozenset({"ticket_number", "private_channel", "state"})
REPLY_FIELDS = frozenset({"ticket_number", "private_channel", "text"})


class Budget(Section):
    """Requests we allow ourselves; `None` means no limit of our own (X's still apply)."""

    per_15min: int | None = Field(None, ge=0)
    per_day: int | None = Field(None, ge=0)


def _default_budgets() -> dict[str, Budget]:
    # Defaults follow the old Basic tier's per-app limits, well inside them.
    return {
        "mentions": Budget(per_15min=10, per_day=500),
        "search": Budget(per_15min=30, per_day=500),
        "lookup": Budget(per_15min=15, per_day=300),
        "users": Budget(per_15min=3, per_day=25),
        "create": Budget(per_15min=50, per_day=100),
    }


class EngagementSettings(Section):
    """X bills every post read, so refreshing metrics is where money goes: young
    tweets (the ones that can still go viral) are refreshed most often."""

    enabled: bool = True
    # Seconds between refreshes of a fresh tweet's public_metrics (open tickets only).
    refresh_interval: float = Field(900, gt=0)
    # A tweet's interval grows by refresh_interval for every this-many hours of age
    # (default: every 15 min when new, every 45 min at 24 h).
    slowdown_hours: float = Field(12, gt=0)
    # Tweets older than this (hours since posting) are no longer refreshed.
    max_age_hours: float = Field(72, gt=0)
    # At most this many tweets per refresh round (100 per lookup request).
    max_tweets: int = Field(300, ge=1)
    # Posts read by refreshes in any 24 h (each one is billed); None = no cap.
    max_reads_per_day: int | None = Field(3000, ge=0)


class UserAuth(Section):
    """OAuth 1.0a user context of the agency's account: needed only to post replies."""

    consumer_key: Secret
    consumer_secret: Secret
    access_token: Secret
    access_token_secret: Secret


class TwitterSettings(ConnectorSettings):
    type: Literal["twitter"] = "twitter"
    bearer_token: Secret = Field(min_length=1)
    user_auth: UserAuth | None = None
    # The agency's account: its mentions timeline is polled. One of the two is enough.
    account_id: str | None = Field(None, pattern=r"^[0-9]{1,20}$")
    username: str | None = Field(None, pattern=r"^@?[A-Za-z0-9_]{1,15}$")
    mentions: bool = True
    # Recent-search query (keywords, #hashtags, @account); optional.
    query: str | None = Field(None, min_length=1, max_length=4096)
    # Add `-is:retweet` to the query so X does not bill us for retweets we drop anyway.
    search_excludes_retweets: bool = True
    poll_interval: float = Field(60, gt=0)
    api_base_url: BaseUrl = DEFAULT_API
    max_results: int = Field(100, ge=5, le=100)
    # Pages fetched per timeline per poll, ingested together oldest first (so replies
    # find their roots); the rest follows on the next poll. 10 pages of 100 cover the
    # whole mentions timeline X keeps (800 posts).
    max_pages: int = Field(10, ge=1, le=100)
    # On the very first poll (no cursor yet), look this far back (search: 7 days at most).
    backfill_hours: float = Field(24, ge=0)
    # Network errors and 5xx: exponential backoff with jitter between these bounds.
    backoff_initial: float = Field(5, gt=0)
    backoff_max: float = Field(900, gt=0)
    request_timeout: float = Field(30, gt=0)
    engagement: EngagementSettings = EngagementSettings()
    budgets: dict[Literal["mentions", "search", "lookup", "users", "create"], Budget] = Field(
        default_factory=_default_budgets
    )
    reply_publicly: bool = False
    # Where the public is sent for anything personal (shown in public posts).
    private_channel: str = Field("DM atau https://www.lapor.go.id", max_length=100)
    public_ack_template: str = (
        "Terima kasih, laporan Anda tercatat dengan nomor tiket {ticket_number}. "
        "Mohon jangan menulis data pribadi di sini; hubungi kami lewat {private_channel}."
    )
    public_status_template: str = "Tiket {ticket_number}: {state}. Info: {private_channel}."
    public_reply_template: str = "{text}\n\nTiket {ticket_number}"
    # Ticket states announced in public (when reply_publicly is on).
    public_status_states: list[TicketState] = Field(
        default_factory=lambda: [TicketState.RESOLVED])

    @field_validator("budgets", mode="after")
    @classmethod
    def _fill_budgets(cls, value: dict[str, Budget]) -> dict[str, Budget]:
        return {**_default_budgets(), **value}

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return value.lstrip("@") if value else value

    @field_validator("public_ack_template")
    @classmethod
    def _ack(cls, value: str) -> str:
        return _check_template(value, ACK_FIELDS, need="ticket_number")

    @field_validator("public_status_template")
    @classmethod
    def _status(cls, value: str) -> str:
        return _check_template(value, STATUS_FIELDS, need="ticket_number")

    @field_validator("public_reply_template")
    @classmethod
    def _reply(cls, value: str) -> str:
        return _check_template(value, REPLY_FIELDS, need="ticket_number")

    @model_validator(mode="after")
    def _something_to_poll(self) -> TwitterSettings:
        has_account = bool(self.account_id or self.username)
        if self.mentions and not has_account and not self.query:
            raise ValueError("set account_id or username (mentions), or a search query")
        if not self.mentions and not self.query:
            raise ValueError("mentions is off and there is no query: nothing to poll")
        if self.reply_publicly and self.user_auth is None:
            raise ValueError("reply_publicly needs user_auth (OAuth 1.0a keys of the account)")
        return self

    @property
    def polls_mentions(self) -> bool:
        return self.mentions and bool(self.account_id or self.username)

    def search_query(self) -> str | None:
        if not self.query:
            return None
        if self.search_excludes_retweets and "is:retweet" not in self.query:
            return f"({self.query}) -is:retweet"
        return self.query


def _check_template(value: str, allowed: frozenset[str], *, need: str) -> str:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc})") from None
    bad = names - allowed
    if bad:
        raise ValueError(
            f"unknown placeholder(s) {sorted(bad)}; allowed: {sorted(allowed)} "
            "(public posts must not carry personal data)"
        )
    if need not in names:
        raise ValueError(f"must contain {{{need}}}")
    return value
