"""The intake body: its pydantic model, its field errors, and its mapping onto `Report`.

Pure (no I/O). The model is the contract; `schema.json` beside this file is generated
from it (`python -m connectors.webhook > connectors/webhook/schema.json`) and a
test keeps the two equal, so the published schema never drifts from what we accept.
Unknown fields are refused rather than dropped: a typo such as `reporter.emial` would
otherwise lose the reporter's address without anyone noticing. Source-specific extras
go in the free-form `meta` object.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aggregator.domain import Author, Report, ReportKind

SCHEMA_ID = "https://aduan.example.id/schemas/webhook-report.json"


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL in text and JSONB; lone surrogates cannot be encoded.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _utc(value: datetime) -> datetime:
    # "9999-12-31T23:59:59-23:00" is valid RFC 3339 but has no UTC equivalent.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range") from None


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _str(**constraints: Any) -> Any:
    """A string type whose constraints show in the JSON schema, checked by `_clean`."""
    return Annotated[str, Field(**constraints), AfterValidator(_clean)]


Id = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_nonblank),
]
Text = Annotated[str, Field(min_length=1), AfterValidator(_clean), AfterValidator(_nonblank)]
Email = _str(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Phone = _str(max_length=40, pattern=r"^\+?[0-9 ().-]{6,39}$")
Telegram = _str(pattern=r"^@?[A-Za-z0-9_]{3,64}$")
Url = _str(max_length=2048, pattern=r"^https?://[^\s]+$")
Channel = _str(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")

# Friendlier words than "String should match pattern '...'" for the 400 body.
PATTERN_MESSAGES = {
    "id": "must not contain control characters",
    "thread_id": "must not contain control characters",
    "email": "not an email address",
    "phone": "not a phone number",
    "telegram": "not a Telegram username (letters, digits, _)",
    "url": "must be an http:// or https:// URL",
    "channel": "lowercase letters, digits, '.', '_' or '-', at most 64",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reporter(_Model):
    name: _str(max_length=200) | None = None
    email: Email | None = None
    phone: Phone | None = None
    telegram: Telegram | None = None
    # Hide identity and contact from staff below supervisor role.
    anonymous: bool = False


class Location(_Model):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: _str(max_length=500) | None = None

    @model_validator(mode="after")
    def _pair(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class Attachment(_Model):
    """Stored as metadata only; the file is never fetched."""

    url: Url
    filename: _str(max_length=255) | None = None
    content_type: _str(max_length=100) | None = None
    size: int | None = Field(None, ge=0)


class WebhookReport(_Model):
    """One report forwarded by a portal, an SMS gateway or a web form."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="WebhookReport")

    id: Id = Field(description="The source's own id; sending it again is safe.")
    text: Text
    title: _str(max_length=300) | None = None
    category: _str(max_length=100) | None = None
    channel: Channel | None = Field(
        None, description="e.g. sms-1708, web-form; defaults to the connector's name"
    )
    kind: ReportKind = ReportKind.COMPLAINT
    confidential: bool = Field(
        False, description="Keep off public status views (whistleblowing always is)."
    )
    created_at: Annotated[AwareDatetime, AfterValidator(_utc)] | None = Field(
        None, description="RFC 3339, with offset")
    reporter: Reporter | None = None
    location: Location | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    thread_id: Id | None = Field(
        None, description="The source's id of an earlier report this one follows up"
    )
    meta: dict[str, Any] = Field(default_factory=dict, max_length=50)

    @field_validator("meta")
    @classmethod
    def _meta(cls, value: dict[str, Any]) -> dict[str, Any]:
        _walk(value)
        return value

    @property
    def is_confidential(self) -> bool:
        return self.confidential or self.kind == ReportKind.WHISTLEBLOWING


def _walk(value: Any) -> None:
    if isinstance(value, str):
        _clean(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _clean(k)
            _walk(v)
    elif isinstance(value, list):
        for v in value:
            _walk(v)


def parse(raw: bytes) -> WebhookReport:
    """Raises `ValidationError`; see `field_errors` for the 400 body."""
    return WebhookReport.model_validate_json(raw)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """`[{"field": "reporter.email", "message": ...}]`; "(body)" for the whole body."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        field = ""
        for part in loc:
            if isinstance(part, int):
                field += f"[{part}]"
            elif not str(part).startswith(("function-", "constrained-")):
                field += ("." if field else "") + str(part)
        kind = err["type"]
        if kind == "json_invalid":
            msg = "not valid JSON"
        elif kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "required"
        elif kind == "model_type" and not field:
            msg = "must be a JSON object"
        elif kind == "string_pattern_mismatch" and str(loc[-1]) in PATTERN_MESSAGES:
            msg = PATTERN_MESSAGES[str(loc[-1])]
        else:
            msg = err["msg"].removeprefix("Value error, ")
        out.append({"field": field or "(body)", "message": msg})
    return out


def normalise_phone(phone: str) -> str:
    """Indonesian numbers in one form, so 0812..., 62812... and +62 812... match."""
    digits = re.sub(r"[^0-9+]", "", phone)
    if digits.startswith("+"):
        return "+" + digits[1:].replace("+", "")
    if digits.startswith("0"):
        return "+62" + digits[1:]
    if digits.startswith("62"):
        return "+" + digits
    return digits


def name_key(name: str) -> str:
    """A name folded so "Budi  Santoso" and "budi santoso" are the same person."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def reporter_handle(reporter: Reporter | None, anon_key: bytes) -> str | None:
    """The stable per-source key: phone, else email, else Telegram name, else (a
    reporter who gave only a name) `name:` + a hash of the folded name, so the name is
    kept on a reporter row instead of being dropped. Such a handle only groups reports
    by the same name within this source; it is no contact, and nothing is sent to it.

    An anonymous reporter gets a keyed hash instead, so the handle shown next to a
    report cannot reveal who they are, and their anonymous reports never share a
    reporter row (and so a visible identity) with their named ones."""
    if reporter is None:
        return None
    if reporter.phone:
        handle = normalise_phone(reporter.phone)
    elif reporter.email:
        handle = reporter.email.strip().lower()
    elif reporter.telegram:
        handle = "tg:" + reporter.telegram.lstrip("@").lower()
    elif reporter.name and reporter.name.strip():
        handle = "name:" + hashlib.sha256(name_key(reporter.name).encode()).hexdigest()[:24]
    else:
        return None
    if reporter.anonymous:
        return "anon:" + hmac.new(anon_key, handle.encode(), hashlib.sha256).hexdigest()[:20]
    return handle


def to_report(body: WebhookReport, source: str, anon_key: bytes) -> Report:
    r = body.reporter
    author = Author(
        handle=reporter_handle(r, anon_key),
        name=r.name.strip() or None if r and r.name else None,
        email=r.email.strip().lower() if r and r.email else None,
        phone=normalise_phone(r.phone) if r and r.phone else None,
        anonymous=bool(r and r.anonymous),
    )
    meta: dict[str, Any] = {}
    if body.category:
        meta["category"] = body.category
    if body.location:
        meta["location"] = body.location.model_dump(exclude_none=True)
    if body.attachments:
        meta["attachments"] = [a.model_dump(exclude_none=True) for a in body.attachments]
    if body.thread_id:
        meta["thread_id"] = body.thread_id
    if r and r.telegram:
        # Under "reporter": the staff API drops it, like the identity, for anonymous
        # reports shown below supervisor role.
        meta["reporter"] = {"telegram": r.telegram}
    elif r and not (r.phone or r.email) and r.name and r.name.strip():
        meta["reporter"] = {"name_only": True}
    if body.meta:
        meta["source_meta"] = body.meta
    return Report(
        source=source,
        channel=body.channel or source,
        external_id=body.id,
        text=body.text,
        author=author,
        title=body.title,
        sent_at=body.created_at,
        kind=body.kind,
        confidential=body.is_confidential,
        reply_to=(body.thread_id,) if body.thread_id else (),
        meta=meta,
    )


def json_schema() -> dict[str, Any]:
    schema = WebhookReport.model_json_schema()
    schema.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": schema.pop("title"),
        "description": (
            "Body of POST /hooks/{connector}. Sign it: X-Aggregator-Timestamp: <unix "
            "seconds>, X-Aggregator-Signature: sha256=<hex HMAC-SHA256(secret, "
            "timestamp + '.' + raw body)>."
        ),
        **schema,
    }
