"""`aggregator run` as a process: starts fast, stops cleanly, loses nothing."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from sqlalchemy import select

from connectors.webhook.signing import sign_headers
from storage.db import create_engine, session_factory
from storage.models import Report as ReportRow
from tests.core.daemon import Daemon, free_port, write_config

SECRET = "daemon-test-secret-0123456789"


async def post(http: aiohttp.ClientSession, url: str, i: int) -> int | None:
    body = json.dumps({"id": f"sig-{i}", "text": f"Lampu PJU mati di gang {i} sejak seminggu",
                       "reporter": {"name": f"Warga {i}"}}).encode()
    headers = {"Content-Type": "application/json", **sign_headers(SECRET.encode(), body,
                                                                    time.time())}
    try:
        async with http.post(f"{url}/hooks/lapor", data=body, headers=headers) as resp:
            return resp.status
    except (TimeoutError, aiohttp.ClientError):
        return None


async def stored_ids(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            return list((await s.execute(select(ReportRow.external_id))).scalars())
    finally:
        await engine.dispose()


async def test_sigterm_during_ingest_loses_nothing(db_url, tmp_path):
    port = free_port()
    config = write_config(tmp_path / "config.yaml", db_url, port,
                          {"lapor": {"type": "webhook", "secret": SECRET, "rate_limit": {
                              "rate": 10000, "burst": 10000, "per_client_rate": 10000,
                              "per_client_burst": 10000}}})
    daemon = Daemon(config, port)
    started = await daemon.start()
    assert started < 30  # start-up time is measured by bench/, not here
    try:
        connector = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=connector) as http:
            tasks = [asyncio.create_task(post(http, daemon.url, i)) for i in range(600)]
            while sum(t.done() for t in tasks) < 100:  # well under way
                await asyncio.sleep(0.01)
            code, took = await daemon.terminate()
            statuses = await asyncio.gather(*tasks)
    finally:
        await daemon.kill()
    assert code == 0, daemon.log()[-3000:]
    assert took < 10
    accepted = {f"sig-{i}" for i, s in enumerate(statuses) if s in (200, 201)}
    assert len(accepted) >= 100
    ids = await stored_ids(db_url)
    assert len(ids) == len(set(ids))  # nothing twice
    assert accepted <= set(ids)  # nothing acknowledged was lost
    # Senders retry whatever was not acknowledged; after a restart all land once.
    daemon = Daemon(config, port)
    await daemon.start()
    try:
        async with aiohttp.ClientSession() as http:
            again = await asyncio.gather(*(post(http, daemon.url, i) for i in range(600)))
        assert set(again) <= {200, 201}
        assert sum(s == 200 for s in again) == len(ids)
    finally:
        await daemon.terminate()
    final = await stored_ids(db_url)
    assert sorted(final) == sorted(f"sig-{i}" for i in range(600))
