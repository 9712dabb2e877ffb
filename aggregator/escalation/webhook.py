"""The generic notification target: a signed JSON POST to an operator's URL.

Registered as an outbox sender (source `escalation`), so notifications are retried,
ordered and dead-lettered like every other message. The body is signed with
HMAC-SHA256 over `timestamp.body` in `X-Aggregator-Signature: t=<unix>,v1=<hex>`, so a
receiver can check it came from us and refuse replays outside its time window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import aiohttp

from aggregator.messages import OutboundMessage, SendResult, StaffNotice

log = logging.getLogger("aggregator.escalation")


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookNotifier:
    """Sends `StaffNotice` messages to the configured webhook targets."""

    def __init__(self, targets: dict[str, tuple[str, bytes]], timeout: float = 10.0):
        self.targets = targets  # name -> (url, secret)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.log = logging.LoggerAdapter(log, {})
        self.delivered = 0

    async def send(self, message: OutboundMessage) -> SendResult:
        body = message.body
        if not isinstance(body, StaffNotice) or body.target not in self.targets:
            return SendResult(skipped=True)
        url, secret = self.targets[body.target]
        payload: dict[str, Any] = {
            "event": "escalation", "idempotency_key": f"escalation:{message.id}",
            "ticket": message.ticket_number, "subject": body.subject, "text": body.text,
            "url": body.url,
            "at": message.created_at.isoformat() if message.created_at else None,
        }
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   "X-Aggregator-Signature": signature(secret, int(time.time()), raw)}
        async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                http.post(url, data=raw, headers=headers) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"webhook target answered {resp.status}")
        self.delivered += 1
        return SendResult(external_id=f"escalation:{message.id}")
