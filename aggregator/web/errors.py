"""Every error the API returns is JSON: {"error": code, "detail": text}."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

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
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        raise ApiError(500, "internal error", "internal") from None


def _keep_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "send application/json")
    try:
        return await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "request body too large") from None
    except ValueError:
        raise ApiError(400, "body is not valid JSON") from None
