"""GET /api/openapi.json: the staff API described as OpenAPI 3.1.

Generated, not written: request bodies, query parameters and responses are the
pydantic models of `aggregator.web.schemas` that the handlers validate with, and the
operations listed here are checked against the routes the app really serves (and their
answers against these schemas) by tests/core/test_openapi.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from aggregator.web import schemas as s

REF = "#/components/schemas/{model}"
routes = web.RouteTableDef()


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    ok: tuple[int, type[BaseModel]]
    body: type[BaseModel] | None = None
    params: type[BaseModel] | None = None
    role: str | None = "agent"  # None: no authentication
    errors: tuple[int, ...] = field(default=())
    tag: str = "tickets"
    media: str = "application/json"  # text/csv: a download, its schema a string


OPERATIONS: tuple[Op, ...] = (
    Op("get", "/healthz", "Connectors, jobs and this process", (200, s.Health), role=None,
       tag="operations"),
    Op("get", "/api/tickets", "The queue, most urgent first", (200, s.QueuePageOut),
       params=s.QueueParams, errors=(400,)),
    Op("get", "/api/tickets/{number}", "One ticket with its reports and events",
       (200, s.TicketDetail), errors=(404,)),
    Op("patch", "/api/tickets/{number}", "Change state, priority, assignee or unit",
       (200, s.TicketSummary), body=s.TicketPatch, errors=(403, 404, 409, 415, 422)),
    Op("post", "/api/tickets/{number}/replies",
       "Reply to the reporters through the channels they used", (202, s.ReplyQueued),
       body=s.ReplyRequest, errors=(404, 409, 413, 415, 422)),
    Op("post", "/api/tickets/{number}/notes", "Add an internal note (never sent)",
       (201, s.NoteAdded), body=s.NoteRequest, errors=(404, 413, 415, 422)),
    Op("post", "/api/tickets/{number}/merge", "Fold this ticket into another",
       (200, s.MergeOut), body=s.MergeRequest, role="supervisor",
       errors=(403, 404, 409, 415, 422)),
    Op("post", "/api/reports/{report_id}/split", "Move a report out to a new ticket",
       (201, s.SplitOut), role="supervisor", errors=(403, 404, 409)),
    Op("post", "/api/tickets/{number}/escalation/ack",
       "Acknowledge an escalation (its repeats stop); with escalation enabled",
       (200, s.EscalationOut), errors=(404, 409)),
    Op("get", "/api/outbox", "Messages in one delivery state, newest first",
       (200, s.OutboxOut), params=s.OutboxParams, role="supervisor", errors=(400, 403),
       tag="outbox"),
    Op("post", "/api/outbox/{id}/retry", "Send a dead message again", (202, s.RetryQueued),
       role="supervisor", errors=(403, 404), tag="outbox"),
    Op("get", "/api/users", "Every user", (200, s.UsersOut), role="admin", errors=(403,),
       tag="accounts"),
    Op("post", "/api/users", "Add a user", (201, s.UserCreated), body=s.UserCreate,
       role="admin", errors=(403, 409, 415, 422), tag="accounts"),
    Op("patch", "/api/users/{name}", "Change a user's role, units, password or state",
       (200, s.UserOut), body=s.UserPatch, role="admin", errors=(403, 404, 409, 422),
       tag="accounts"),
    Op("get", "/api/tokens", "API tokens (never their values)", (200, s.TokensOut),
       role="agent", errors=(403, 404), tag="accounts"),
    Op("delete", "/api/tokens/{token_id}", "Revoke a token", (200, s.Revoked),
       errors=(404,), tag="accounts"),
    Op("get", "/api/stats", "Service figures of a period (volume, response times, SLA, IKM)",
       (200, s.Response), errors=(400, 403), tag="monitoring"),
    Op("get", "/api/stats.csv", "The same figures as CSV", (200, s.Response),
       errors=(400, 403), tag="monitoring", media="text/csv"),
    Op("get", "/api/tickets.csv", "The tickets of a period as CSV", (200, s.Response),
       errors=(400, 403), tag="monitoring", media="text/csv"),
    Op("get", "/api/openapi.json", "This document", (200, s.Response), role=None,
       tag="operations"),
)
_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad request",
                401: "Not signed in", 403: "Forbidden", 404: "Not found", 409: "Conflict",
                413: "Too large", 415: "Not JSON in UTF-8", 422: "Invalid", 429: "Too many"}


def _parameters(op: Op, defs: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", op.path)]
    if op.params is not None:
        schema = op.params.model_json_schema(ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            out.append({"name": name, "in": "query", "required": False,
                        "description": prop.pop("description", ""), "schema": prop})
    return out


def _operation(op: Op, refs: dict[Any, dict[str, Any]],
               defs: dict[str, Any]) -> dict[str, Any]:
    status, model = op.ok
    error = {"content": {"application/json": {"schema": refs[(s.ErrorBody, "serialization")]}}}
    schema = refs[(model, "serialization")] if op.media == "application/json" else {
        "type": "string"}
    responses: dict[str, Any] = {str(status): {
        "description": _STATUS_TEXT[status], "content": {op.media: {"schema": schema}}}}
    codes = set(op.errors) | ({401} if op.role else set())
    for code in sorted(codes):
        responses[str(code)] = {"description": _STATUS_TEXT[code], **error}
    out: dict[str, Any] = {
        "summary": op.summary, "tags": [op.tag],
        "operationId": f"{op.method}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
        "parameters": _parameters(op, defs), "responses": responses,
    }
    if op.role is None:
        out["security"] = []
    else:
        out["description"] = f"Needs the {op.role} role or higher."
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(op.body, "validation")]}}}
    return out


@cache
def document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(s.ErrorBody, "serialization")]
    for op in OPERATIONS:
        models.append((op.ok[1], "serialization"))
        if op.body is not None:
            models.append((op.body, "validation"))
    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema(unique, ref_template=REF)
    defs = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Aduan aggregator staff API", "version": "1",
                 "description": "JSON over HTTP. Errors are {\"error\", \"detail\"}."},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "aggregator tokens create USER"}},
        },
        "security": [{"bearer": []}],
    }


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
