"""POST /hooks/{name}: check, in order of cost, then store, then answer.

Order: declared size (413), media type (415), per-address rate (429), body read with
a cap (413), signature + replay window (401), per-source rate (429), JSON + contract
(400), ingest (201 new / 200 repeat / 503 retry later). Every refusal happens before
ingest, so a refused request writes nothing. The answer is sent only after the
commit, so a 2xx always means "stored".
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from aggregator.intake.port import ConnectorContext
from aggregator.web.clients import client_address, networks
from aggregator.web.errors import json_media_type_problem
from connectors.webhook import schema, signing, status
from connectors.webhook.ratelimit import RateLimiter, retry_after_header
from connectors.webhook.settings import WebhookSettings

READ_CHUNK = 64 * 1024


def error(status_code: int, code: str, detail: str, **extra: Any) -> web.Response:
    """The API's error shape: {"error": code, "detail": text, ...}."""
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return web.json_response(
        {"error": code, "detail": detail, **extra}, status=status_code, headers=headers
    )


class Intake:
    def __init__(
        self,
        settings: WebhookSettings,
        ctx: ConnectorContext,
        path: str,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.ctx = ctx
        self.path = path
        self.clock = clock
        rl = settings.rate_limit
        # Each process enforces its share of the limits (see ratelimit.py).
        self.per_client = RateLimiter(rl.per_client_rate, rl.per_client_burst,
                                      processes=ctx.processes)
        self.proxies = networks(ctx.settings.web.trusted_proxies)
        self.per_source = RateLimiter(rl.rate, rl.burst, processes=ctx.processes)
        self.secrets = settings.secrets()
        self.counts: Counter[str] = Counter()
        self.last_accepted: float | None = None
        self.log: logging.LoggerAdapter[logging.Logger] = ctx.log

    async def handle(self, request: web.Request) -> web.Response:
        response = await self._handle(request)
        self.counts[str(response.status)] += 1
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return self._too_large(limit)
        refused = json_media_type_problem(request.headers.get("Content-Type", ""))
        if refused is not None:
            return error(415, "unsupported_media_type", refused)
        wait = self.per_client.check(client_address(request, self.proxies))
        if wait:
            return self._rate_limited(wait, "this address")
        try:
            raw = await _read_capped(request, limit)
        except (web.RequestPayloadError, HttpProcessingError):
            return error(400, "bad_request", "the body could not be read (a broken gzip or "
                         "deflate Content-Encoding?)")
        if raw is None:
            return self._too_large(limit)
        why = signing.verify(self.secrets, request.headers, raw, now=self.clock(),
                             window=self.settings.replay_window_seconds)
        if why is not None:
            self.log.info("webhook refused: %s", why,
                          extra={"remote": client_address(request, self.proxies)})
            return error(401, "unauthorized", why)
        wait = self.per_source.check()
        if wait:
            return self._rate_limited(wait, "this source")
        try:
            body = schema.parse(raw)
        except ValidationError as exc:
            return error(400, "invalid", "the body does not follow the contract",
                         fields=schema.field_errors(exc))
        report = schema.to_report(body, self.ctx.name, self.secrets[0])
        try:
            (result,) = await self.ctx.ingest([report])
        except Exception as exc:  # noqa: BLE001 - shutting down, database away...
            self.log.warning("webhook ingest failed: %s", exc, extra={"id": body.id})
            return error(503, "unavailable", "could not store the report; send it again",
                         retry_after=5)
        self.last_accepted = self.clock()
        url = None
        if not body.is_confidential:
            url = status.url(self._base_url(request), self.path, result.report_id,
                             self.secrets[0])
        return web.json_response(
            {"ticket": result.ticket_number, "report_id": result.report_id, "status_url": url},
            status=201 if result.created_report else 200,
        )

    def _base_url(self, request: web.Request) -> str:
        """`web.public_url`, else the address we listen on; never the Host header,
        which the client chooses (a forged one would put another site in the link)."""
        web_settings = self.ctx.settings.web
        if web_settings.public_url:
            return web_settings.public_url.rstrip("/")
        host, port = web_settings.host, web_settings.port
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            if host in ("", "0.0.0.0", "::"):
                host = str(sockname[0])
            if port == 0:
                port = int(sockname[1])
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def _too_large(self, limit: int) -> web.Response:
        response = error(413, "too_large", f"the body is over {limit} bytes", max_bytes=limit)
        response.force_close()  # do not drain a huge body we will not read
        return response

    def _rate_limited(self, wait: float, who: str) -> web.Response:
        return error(429, "rate_limited", f"too many requests from {who}",
                     retry_after=int(retry_after_header(wait)))


async def _read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` (a chunked upload has no length)."""
    buf = bytearray()
    async for chunk in request.content.iter_chunked(READ_CHUNK):
        buf += chunk
        if len(buf) > limit:
            return None
    return bytes(buf)

