"""Every error the API returns is JSON: {"error": code, "detail": text}.

Whatever a client sends gets a 4xx, never a 500: request bodies are read by
`read_json` (media type, size, Content-Encoding, UTF-8, JSON, and text a database
can store), and what a handler still lets through (a number too large for a database
column, a value PostgreSQL refuses) is mapped to 400/422 here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from aggregator.tickets.actions import ActionError

log = logging.getLogger("aggregator.web")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 422: "invalid", 429: "rate_limited"}


class ApiError(web.HTTPException):
    """Raise from a handler to answer with a JSON error."""

    def __init__(self, status: int, detail: str, error: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        self.status_code = status
        body = {"error": error or _CODES.get(status, "error"), "detail": detail, **extra}
        super().__init__(text=json.dumps(body), content_type="application/json",
                         headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError:
        raise
    except ActionError as exc:
        raise ApiError(exc.status, exc.detail, exc.error) from None
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(("/api", "/hooks", "/healthz")):
            raise
        if exc.content_type == "application/json":
            raise
        raise ApiError(exc.status, exc.reason, headers=_keep_headers(exc)) from None
    except (web.RequestPayloadError, HttpProcessingError):
        raise ApiError(400, _UNREADABLE) from None
    except (OverflowError, StatementError) as exc:
        refusal = _refused_value(exc)
        if refusal is None:
            log.exception("unhandled error", extra={"path": request.path})
            raise ApiError(500, "internal error", "internal") from None
        log.warning("request value refused (%s): %.300s", type(exc).__name__, exc,
                    extra={"path": request.path})
        raise refusal from None
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        raise ApiError(500, "internal error", "internal") from None


_UNREADABLE = "the body could not be read (a broken gzip or deflate Content-Encoding?)"


def _refused_value(exc: Exception) -> ApiError | None:
    """A 4xx for an error caused by a value the client sent, None for our own bugs."""
    chain = _causes(exc)
    if any(isinstance(e, OverflowError) for e in chain):
        # e.g. an integer beyond 64 bits in a cursor or an id, bound into a query.
        return ApiError(400, "a number in the request is out of range")
    if any(isinstance(e, DataError) or _is_driver_data_error(e) for e in chain):
        # The database refused a value (too long, out of range, not storable text).
        return ApiError(422, "a value in the request cannot be stored (too long, out of "
                        "range or not valid text)")
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError) and \
            isinstance(exc.orig, ValueError | TypeError):
        # A value a query could not bind (a date without its offset...).
        return ApiError(400, "a value in the request is out of range or malformed")
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, the driver error it wraps, and what caused those."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        one = todo.pop()
        if one is None or any(one is s for s in seen):
            continue
        seen.append(one)
        todo += [getattr(one, "orig", None), one.__cause__]
    return seen


def _is_driver_data_error(exc: BaseException) -> bool:
    # asyncpg's DataError (SQLSTATE class 22, or a parameter it cannot encode), without
    # importing asyncpg, which is optional.
    return any(c.__name__ == "DataError" and c.__module__.startswith("asyncpg")
               for c in type(exc).__mro__)


def _keep_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


def json_media_type_problem(header: str) -> str | None:
    """None for `application/json` in UTF-8 (any case, charset quoted or not)."""
    mime, _, params = header.partition(";")
    if mime.strip().lower() != "application/json":
        return "send Content-Type: application/json"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and \
                value.strip().strip('"').strip().lower() not in ("utf-8", "utf8"):
            return "only UTF-8 is accepted: send Content-Type: application/json; charset=utf-8"
    return None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or an ApiError: 415 not JSON in UTF-8, 413 too large,
    400 unreadable or malformed, 422 text a database cannot store (NUL characters,
    lone surrogates), anywhere in the document, keys included."""
    problem = json_media_type_problem(request.headers.get("Content-Type", ""))
    if problem is not None:
        raise ApiError(415, problem)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "request body too large") from None
    except (web.RequestPayloadError, HttpProcessingError):
        raise ApiError(400, _UNREADABLE) from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ApiError(400, "body is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "body is not valid JSON") from None
    where = bad_text(data)
    if where is not None:
        where = where[:200]
        raise ApiError(422, f"{where}: text must not contain NUL characters or unpaired "
                       "surrogates", fields=[{"field": where, "message": "not storable text"}])
    return data


def bad_text(document: Any) -> str | None:
    """The path of the first string (value or key) with a NUL or a lone surrogate."""
    stack: list[tuple[str, Any]] = [("(body)", document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _storable(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                path = key if where == "(body)" else f"{where}.{key}"
                if not _storable(key):
                    return where
                stack.append((path, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
