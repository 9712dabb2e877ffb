"""A webhook connector wired to a real ingestor and database, served by aiohttp on
127.0.0.1, plus a sender that signs exactly as the contract says."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings, parse
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.port import ConnectorContext
from connectors.webhook import WebhookConnector
from connectors.webhook.signing import sign_headers
from storage.models import Outbox, Reporter, Ticket, TicketEvent
from storage.models import Report as ReportRow

SECRET = "s3cret-for-tests-0123456789"
TABLES = (ReportRow, Ticket, Reporter, TicketEvent, Outbox)


def webhook_settings(db_url: str, tmp_path: Any, name: str = "lapor", **conf: Any) -> Settings:
    raw = {
        "database": {"url": db_url},
        "web": {"port": 0},
        "logging": {"format": "text"},
        "dedup": {"enabled": False},
        "connectors": {name: {"type": "webhook", "secret": SECRET, **conf}},
    }
    return parse(raw, base_dir=tmp_path, env={})


def complaint(i: int | str, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"LAPOR-{i}",
        "text": f"Jalan rusak berlubang di RT {i} Kelurahan Sukamaju belum diperbaiki",
        "channel": "web-form",
        "reporter": {"name": f"Warga {i}", "phone": f"0812000{i}"},
    }
    body.update(kw)
    return body


class Sender:
    """Posts like a portal would: raw bytes, signed, to the connector's path."""

    def __init__(self, http: aiohttp.ClientSession, url: str, secret: str = SECRET):
        self.http, self.url, self.secret = http, url, secret

    async def post(
        self,
        body: Any = None,
        *,
        raw: bytes | None = None,
        secret: str | None = None,
        ts: float | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> tuple[int, dict[str, Any], Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        if sign:
            h.update(sign_headers((secret or self.secret).encode(), data,
                                  time.time() if ts is None else ts))
        h.update(headers or {})
        async with self.http.post(self.url, data=data, headers=h) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else {}), resp.headers


class Hook:
    def __init__(self, conn: WebhookConnector, ingestor: Ingestor,
                 sessions: async_sessionmaker[AsyncSession], base: str,
                 http: aiohttp.ClientSession):
        self.conn, self.ingestor, self.sessions, self.base, self.http = (
            conn, ingestor, sessions, base, http)
        self.sender = Sender(http, base + conn.path)

    async def post(self, body: Any = None, **kw: Any) -> tuple[int, dict[str, Any], Any]:
        return await self.sender.post(body, **kw)

    async def counts(self) -> dict[str, int]:
        async with self.sessions() as s:
            return {
                m.__tablename__: (await s.execute(select(func.count()).select_from(m)))
                .scalar_one()
                for m in TABLES
            }


@asynccontextmanager
async def serve(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], name: str = "lapor"
) -> AsyncIterator[Hook]:
    ingestor = Ingestor(sessions, Pipeline(settings))
    await ingestor.start()
    ctx = ConnectorContext(name=name, settings=settings, ingestor=ingestor, sessions=sessions,
                           log=logging.LoggerAdapter(logging.getLogger("test.webhook"), {}))
    conn = WebhookConnector(settings.connectors[name], ctx)
    app = web.Application()
    app.add_routes(list(conn.routes()))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    http = aiohttp.ClientSession()
    try:
        yield Hook(conn, ingestor, sessions, str(server.make_url("")).rstrip("/"), http)
    finally:
        await http.close()
        await server.close()
        await conn.stop()
        await ingestor.close()
