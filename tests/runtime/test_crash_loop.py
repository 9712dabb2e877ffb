"""Crash loop: a webhook-fed daemon is killed with SIGKILL at random moments while
reports stream in and staff reply, and restarted, twenty times. Afterwards every report
is stored exactly once, and every reply reached the portal's callback once (by its
idempotency key) and in the order staff wrote them."""

from __future__ import annotations

import asyncio
import json
import random
import time

import aiohttp
import pytest
from sqlalchemy import func, select

from connectors.webhook.signing import sign_headers
from storage.accounts import add_user, create_token
from storage.db import create_engine, session_factory
from storage.models import Report, Ticket
from tests.connectors.webhook.receiver import receiving
from tests.core.daemon import Daemon, free_port, write_config

SECRET = "crash-loop-secret-5f1e0c9d"
CYCLES = 20
TOPICS = ("Jalan ambles di ruas Jl. Sudirman dekat jembatan Kali Malang",
          "Lampu penerangan taman kota Merdeka mati total sejak Senin malam",
          "Pungutan liar di loket pembuatan KTP Kecamatan Cibeunying Kidul")
TICKETS = len(TOPICS)


async def post_until_accepted(http: aiohttp.ClientSession, url: str, body: dict) -> dict:
    """As a portal does: retry until the service says it has the report."""
    raw = json.dumps(body).encode()
    while True:
        headers = {"Content-Type": "application/json",
                   **sign_headers(SECRET.encode(), raw, time.time())}
        try:
            async with http.post(url, data=raw, headers=headers) as resp:
                if resp.status in (200, 201, 202):
                    return await resp.json()
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.05)


async def reply_until_accepted(http, url: str, token: str, text: str) -> None:
    """As a careful client does: the same Idempotency-Key on every try, so a reply whose
    answer was lost to a kill is not recorded twice when sent again."""
    key = f"reply-{abs(hash((url, text)))}"
    while True:
        try:
            async with http.post(url, json={"text": text}, headers={
                    "Authorization": f"Bearer {token}", "Idempotency-Key": key}) as resp:
                if resp.status == 202:
                    return
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.05)


@pytest.mark.timeout(400)
async def test_twenty_kills_lose_nothing_and_duplicate_nothing(db_url, tmp_path):
    rnd = random.Random(20261130)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        await add_user(s, "sari", "agent")
        token = await create_token(s, "sari")
    async with receiving(SECRET.encode()) as portal, aiohttp.ClientSession() as http:
        port = free_port()
        config = write_config(tmp_path / "config.yaml", db_url, port, {"lapor": {
            "type": "webhook", "secret": SECRET, "callback_url": portal.url}})
        daemon = Daemon(config, port)
        hook = f"{daemon.url}/hooks/lapor"
        await daemon.start(ready_within=30)
        numbers = []
        for t, topic in enumerate(TOPICS):  # three tickets: replies go to each in order
            got = await post_until_accepted(http, hook, {"id": f"T{t}", "text": topic})
            numbers.append(got["ticket"])
        assert len(set(numbers)) == TICKETS
        sent, replies = 0, {n: [] for n in numbers}

        stop = asyncio.Event()

        async def stream() -> None:
            nonlocal sent
            while not stop.is_set():
                await post_until_accepted(http, hook, {
                    "id": f"R{sent}", "text": f"Laporan warga nomor {sent} tentang sampah"})
                sent += 1
                if sent % 3 == 0:
                    number = numbers[sent % TICKETS]
                    text = f"Balasan {len(replies[number])} untuk {number}"
                    await reply_until_accepted(
                        http, f"{daemon.url}/api/tickets/{number}/replies", token, text)
                    replies[number].append(text)

        writer = asyncio.create_task(stream())
        try:
            starts = []
            for _ in range(CYCLES):
                await asyncio.sleep(rnd.uniform(0.1, 0.8))
                await daemon.kill()
                starts.append(await daemon.start(ready_within=30))
            print(f"restarts: median {sorted(starts)[len(starts) // 2]:.2f} s")
        finally:
            # Let the request in flight finish (a reply the daemon took must be counted).
            stop.set()
            await asyncio.wait([writer], timeout=60)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

        async def delivered() -> bool:
            keys = {c["body"]["idempotency_key"] for c in portal.accepted
                    if c["body"]["event"] == "reply"}
            return len(keys) >= sum(len(r) for r in replies.values())

        t0 = time.monotonic()
        while not await delivered() and time.monotonic() - t0 < 60:
            await asyncio.sleep(0.2)
        await daemon.terminate()

    async with sessions() as s:
        ids = list((await s.execute(select(Report.external_id))).scalars())
        tickets = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
    await engine.dispose()
    expected = {f"T{t}" for t in range(TICKETS)} | {f"R{i}" for i in range(sent)}
    assert len(ids) == len(set(ids))  # none twice
    # Every accepted report is there (the stream ends between requests).
    assert expected == set(ids)
    assert tickets >= TICKETS and sent > 0  # reports flowed through the kills
    for number, texts in replies.items():
        got = [c["body"]["reply"]["text"] for c in portal.accepted
               if c["body"]["event"] == "reply" and c["body"]["ticket"] == number]
        assert got == texts, number  # each once, in the order written
    assert all(c["signature_ok"] for c in portal.calls)
