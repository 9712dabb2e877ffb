"""The staff API's request and response bodies as pydantic models.

Handlers validate what clients send with the request models (`parse_body`,
`parse_query`), and `aggregator.web.openapi` generates the OpenAPI document from these
same classes, so the document cannot drift from what the code accepts. A validator that
raises keeps the exact message the API has always given ("role must be one of ...").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from aggregator.domain import TicketState
from aggregator.web.errors import ApiError, read_json
from storage import accounts

M = TypeVar("M", bound=BaseModel)
RoleName = Literal["agent", "supervisor", "admin"]
PriorityName = Literal["low", "normal", "high", "urgent"]
StateName = Literal["new", "in_progress", "waiting", "resolved", "closed"]
Text100 = Annotated[str, Field(max_length=100)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


def _messages(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append({"field": where[:200], "message": message[:300]})
    return out


def validate(model: type[M], data: Any, status: int = 422) -> M:
    """`data` as `model`, or an ApiError naming the first problem and listing all."""
    if isinstance(data, Mapping):
        unknown = set(data) - set(model.model_fields)
        if unknown and model.model_config.get("extra") == "forbid":
            raise ApiError(status, f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = _messages(exc)
        raise ApiError(status, fields[0]["message"], fields=fields) from None


async def parse_body(request: web.Request, model: type[M], what: str) -> M:
    """The JSON body (see `read_json` for 400/413/415 and unstorable text) as `model`."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, f"send a JSON object with {what}")
    return validate(model, data)


def parse_query(request: web.Request, model: type[M]) -> M:
    """Query parameters as `model` (a bad one is a 400)."""
    return validate(model, {k: v for k, v in request.query.items() if v != ""}, status=400)


# ----------------------------------------------------------------------- requests


def _one_of(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}")
    return value


class TicketPatch(Request):
    """Any of the fields; each change is one audit event."""

    state: StateName | None = None
    priority: PriorityName | None = None
    assignee: Text100 | None = None
    unit: Text100 | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: object) -> object:
        return _one_of(v, tuple(s.value for s in TicketState), "state")

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, v: object) -> object:
        return _one_of(v, ("low", "normal", "high", "urgent"), "priority")

    @field_validator("assignee", "unit", mode="before")
    @classmethod
    def _name(cls, v: object) -> object:
        if v is not None and (not isinstance(v, str) or len(v) > 100):
            raise ValueError("must be a string (<= 100) or null")
        return v


class ReplyRequest(Request):
    text: StrictStr = Field(json_schema_extra={"maxLength": 20000, "minLength": 1})
    report_id: StrictInt | None = Field(None, description="answer only this report's reporter")
    everyone: StrictBool | None = Field(None, description="on a confidential ticket: all")


class NoteRequest(Request):
    text: StrictStr = Field(json_schema_extra={"maxLength": 20000, "minLength": 1})


class MergeRequest(Request):
    into: StrictStr = Field(description="the ticket number to merge into")

    @field_validator("into", mode="before")
    @classmethod
    def _into(cls, v: object) -> object:
        if not isinstance(v, str) or not v.strip():
            raise ValueError('send {"into": "<ticket number>"}')
        return v


class UserCreate(Request):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    role: RoleName
    password: str | None = Field(None, min_length=8, max_length=1024)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: object) -> object:
        return accounts.check_name(v)

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, v: object) -> object:
        return accounts.check_role(v)

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, v: object) -> object:
        return None if v is None else accounts.check_new_password(v)


class UserPatch(Request):
    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)
    units: list[Text100] | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, v: object) -> object:
        return accounts.check_role(v)

    @field_validator("disabled", mode="before")
    @classmethod
    def _disabled(cls, v: object) -> object:
        if not isinstance(v, bool):
            raise ValueError("disabled must be true or false")
        return v

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, v: object) -> object:
        return accounts.check_new_password(v)

    @field_validator("units", mode="before")
    @classmethod
    def _units(cls, v: object) -> object:
        return accounts.check_units(v)


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore")  # unknown query parameters are ignored


class QueueParams(Params):
    """GET /api/tickets query parameters."""

    state: str | None = Field(None, description="`open` or a comma-separated list of states")
    channel: str | None = None
    q: str | None = Field(None, description="a ticket number, or words of its reports "
                          '(web-search syntax: "phrase", -word, or)')
    kind: str | None = None
    unit: str | None = None
    assignee: str | None = None
    priority: PriorityName | None = None
    escalated: bool | None = None
    confidential: bool | None = None
    updated_since: str | None = Field(None, description="RFC 3339: changed after this")
    sort: Literal["urgency", "relevance"] = Field(
        "urgency", description="with q: relevance (bm25 / ts_rank), one page, no cursor")
    limit: int = Field(50, description="1-200")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, v: object) -> object:
        try:
            return int(str(v))
        except ValueError:
            raise ValueError("limit must be a number") from None


class OutboxParams(Params):
    state: Literal["pending", "sent", "skipped", "dead"] = "dead"
    limit: int = 100

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: object) -> object:
        return _one_of(v, ("pending", "sent", "skipped", "dead"), "state")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, v: object) -> object:
        try:
            return int(str(v))
        except ValueError:
            raise ValueError("limit must be a number") from None


# ---------------------------------------------------------------------- responses


class ErrorBody(Response):
    error: str = Field(description="bad_request, unauthorized, forbidden, not_found, ...")
    detail: str
    fields: list[dict[str, str]] | None = None


class SearchMatch(Response):
    report_id: int
    snippet: str
    highlights: list[list[int]] = Field(description="[start, end) of matched words")


class TicketSummary(Response):
    number: str
    title: str
    state: StateName
    priority: PriorityName
    kind: str
    unit: str | None
    assignee: str | None
    channels: list[str]
    report_count: int
    confidential: bool
    escalation_level: int
    virality_score: float
    virality_level: int
    satisfaction: int | None
    merged_into: str | None
    created_at: str | None
    updated_at: str | None
    sla_due_at: str | None
    first_response_due_at: str | None
    first_response_at: str | None
    resolved_at: str | None
    match: SearchMatch | None = Field(None, description="with `q`: the best matching report")


class QueuePageOut(Response):
    tickets: list[TicketSummary]
    next_cursor: str | None


class ReportOut(Response):
    id: int
    channel: str
    source: str
    external_id: str
    kind: str
    title: str | None
    text: str
    body: str | None
    author: dict[str, Any] = Field(description='{"anonymous": true} when masked')
    confidential: bool
    sent_at: str | None
    received_at: str | None
    match_reason: str | None
    meta: dict[str, Any]


class EventOut(Response):
    at: str | None
    actor: str
    type: str
    data: dict[str, Any]


class TicketDetail(TicketSummary):
    reports: list[ReportOut]
    events: list[EventOut]


class ReplyQueued(Response):
    ticket: str
    queued: int


class NoteAdded(Response):
    ticket: str
    event: EventOut


class MergeOut(Response):
    merged: str
    into: str
    reports_moved: int
    ticket: TicketSummary


class SplitOut(Response):
    report_id: int
    from_: str = Field(alias="from")
    ticket: TicketSummary


class EscalationOut(Response):
    level: int
    reasons: list[str] | None = None
    acknowledged_level: int | None = None
    acknowledged_by: str | None = None


class UserOut(Response):
    name: str
    role: RoleName
    disabled: bool
    units: list[str]
    has_password: bool
    created_at: str | None


class UserCreated(Response):
    name: str
    role: RoleName


class UsersOut(Response):
    users: list[UserOut]


class TokenOut(Response):
    id: int
    user: str
    label: str
    state: Literal["active", "expired", "revoked"]
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class TokensOut(Response):
    tokens: list[TokenOut]


class Revoked(Response):
    revoked: int


class OutboxMessage(Response):
    id: int
    source: str
    kind: str
    ticket: str | None
    recipient: str
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    next_attempt_at: str


class OutboxOut(Response):
    messages: list[OutboxMessage]


class RetryQueued(Response):
    id: int
    state: Literal["pending"]


class Health(Response):
    status: Literal["ok"]
    process: str
    processes: int  # live processes sharing the database (1 on SQLite)
    connectors: dict[str, dict[str, Any]]
    jobs: dict[str, dict[str, Any]] | None = None
