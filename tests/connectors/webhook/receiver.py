"""A local status-callback receiver, as a portal would run one: it checks the
signature, records what it got and answers with whatever status the test scripts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.webhook.signing import verify


@dataclass
class Receiver:
    secret: bytes
    # Statuses to answer, in order; once used up, 200.
    script: list[int] = field(default_factory=list)
    # Or: fail the first N deliveries of every idempotency key with 500.
    fail_first: int = 0
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Clear `gate` to hold every call from then on (answered once it is set again);
    # `held` tells the test that a call is waiting.
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        call = {"headers": dict(request.headers), "body": json.loads(raw), "t": time.time(),
                "signature_ok": verify([self.secret], request.headers, raw, now=time.time(),
                                       window=300) is None}
        self.calls.append(call)
        self.arrived.set()
        if not self.gate.is_set():
            self.held.set()
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        key = call["body"]["idempotency_key"]
        if sum(c["body"]["idempotency_key"] == key for c in self.calls) <= self.fail_first:
            status = 500
        headers = {"Retry-After": "7"} if status == 429 else {}
        if 200 <= status < 300:
            # Drop a duplicate by its idempotency key, as the contract suggests.
            keys = {c["body"]["idempotency_key"] for c in self.accepted}
            if call["body"]["idempotency_key"] not in keys:
                self.accepted.append(call)
        return web.json_response({"status": status}, status=status, headers=headers)

    async def wait_for(self, n: int, within: float = 20.0) -> None:
        await self.until(lambda: len(self.calls) >= n, within)

    async def until(self, done: Callable[[], bool], within: float = 20.0) -> None:
        async with asyncio.timeout(within):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    def calls_for(self, key: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["body"]["idempotency_key"] == key]


async def _moved(request: web.Request) -> web.Response:
    raise web.HTTPFound("/lapor/callback")


@asynccontextmanager
async def receiving(secret: bytes, **kw: Any) -> AsyncIterator[Receiver]:
    rec = Receiver(secret, **kw)
    app = web.Application()
    app.router.add_post("/lapor/callback", rec.handle)
    app.router.add_post("/moved", _moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/lapor/callback"))
    try:
        yield rec
    finally:
        await server.close()
