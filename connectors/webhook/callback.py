"""Status callbacks: staff replies and state changes POSTed back to the source.

Delivery rides on the core outbox (at-least-once, retried with backoff, kept across
restarts). Each callback carries `idempotency_key` (also as the `Idempotency-Key`
header), stable across retries, so a receiver that saw a 2xx-less timeout and then
the retry can drop the duplicate. Signed like the intake, with the same headers.
Redirects are not followed: a signed body must only go where the operator said.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from aggregator.messages import OutboundMessage, Reply, SendResult, StatusChange
from connectors.webhook import signing

KINDS = frozenset({"reply", "status"})


class CallbackError(RuntimeError):
    """The receiver did not take the callback; the outbox retries it later."""


def build(
    message: OutboundMessage, *, source: str, state: str | None, at: datetime | None
) -> dict[str, Any]:
    """The callback body for one outbox message (pure)."""
    b = message.body
    ids = list(b.report_external_ids) if isinstance(b, Reply | StatusChange) else []
    body: dict[str, Any] = {
        "event": message.kind,
        "idempotency_key": idempotency_key(source, message.id),
        "id": ids[0] if ids else None,
        "ids": ids,
        "ticket": message.ticket_number,
        "state": state,
        "at": at.isoformat() if at else None,
    }
    if isinstance(b, StatusChange):
        # The state this event moved to, not whatever it is by the time we deliver.
        body["state"] = b.after or state
        body["previous_state"] = b.before
        if message.survey_url:
            # Resolved: where the reporter answers the satisfaction survey (a signed
            # one-page form); the portal shows it to them.
            body["survey_url"] = message.survey_url
    elif isinstance(b, Reply):
        body["reply"] = {"text": b.text, "staff": b.staff}
    return body


def idempotency_key(source: str, outbox_id: int) -> str:
    return f"{source}:{outbox_id}"


class CallbackClient:
    """POSTs callbacks over one pooled session.

    `close()` (on connector stop) never aborts a delivery under way: the pooled
    session is closed by the last one to finish. The outbox may still send after
    that (it stops later); each such post uses its own short-lived session."""

    def __init__(
        self, url: str, key: bytes, timeout: float, *, clock: Callable[[], float] = time.time
    ):
        self.url = url
        self.key = key
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._busy = 0
        self.delivered = 0
        self.failed = 0

    async def post(self, body: dict[str, Any]) -> SendResult:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(body["idempotency_key"]),
            "X-Aggregator-Event": str(body["event"]),
            **signing.sign_headers(self.key, raw, self.clock()),
        }
        if self._closed:
            async with aiohttp.ClientSession(timeout=self.timeout) as once:
                return await self._post(once, raw, headers)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        self._busy += 1
        try:
            return await self._post(self._session, raw, headers)
        finally:
            self._busy -= 1
            if self._closed and not self._busy:
                await self._close_session()

    async def _post(
        self, session: aiohttp.ClientSession, raw: bytes, headers: dict[str, str]
    ) -> SendResult:
        try:
            async with session.post(
                self.url, data=raw, headers=headers, allow_redirects=False
            ) as resp:
                if 200 <= resp.status < 300:
                    self.delivered += 1
                    return SendResult()
                wait = _retry_after(resp) if resp.status == 429 else None
                if wait is not None:
                    return SendResult(retry_after=wait)
                text = (await resp.text(errors="replace"))[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failed += 1
            raise CallbackError(f"callback to {self.url} failed: {exc!r}") from exc
        self.failed += 1
        raise CallbackError(f"callback answered HTTP {resp.status}: {text}")

    async def close(self) -> None:
        self._closed = True
        if not self._busy:
            await self._close_session()

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None
    return float(min(max(int(value), 1), 3600))
