"""Several processes on one PostgreSQL database: exactly one polls a bot at a time;
when it is killed the other takes over within seconds and every message sent during
the switch is stored once and acknowledged. On SQLite a second process is refused."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from storage.db import create_engine
from tests.connectors.telegram.fake_bot_api import FakeBotAPI
from tests.core.daemon import Daemon, free_port, write_config
from tests.core.helpers import cli_async

TOKEN = "123456:TEST-token"


class CountingBotAPI(FakeBotAPI):
    """The fake Bot API, counting long polls in flight (Telegram allows one)."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.in_flight = 0
        self.max_in_flight = 0

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await super()._m_getUpdates(p)
        finally:
            self.in_flight -= 1


async def lease_state(http: aiohttp.ClientSession, d: Daemon) -> str | None:
    try:
        async with http.get(f"{d.url}/healthz") as resp:
            body = await resp.json()
        return body["connectors"]["tg"].get("lease")
    except (aiohttp.ClientError, KeyError):
        return None


async def process_id(http: aiohttp.ClientSession, d: Daemon) -> str:
    async with http.get(f"{d.url}/healthz") as resp:
        return str((await resp.json())["process"])


async def status(d: Daemon) -> dict[str, Any]:
    """What `aggregator status --json` tells the operator."""
    result = await cli_async(d.config, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def reports(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as c:
            return list((await c.execute(text("SELECT external_id FROM reports"))).scalars())
    finally:
        await engine.dispose()


async def until(check, within: float, what: str) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        if await check():
            return time.monotonic() - t0
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


async def test_one_poller_at_a_time_and_takeover_after_kill(tmp_path, pg_db_url,
                                                             monkeypatch):
    url = pg_db_url
    monkeypatch.setenv("TG_TOKEN", TOKEN)  # the operator's CLI reads the same config
    fake = CountingBotAPI()
    await fake.start()
    daemons: list[Daemon] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            conf = write_config(tmp_path / f"{name}.yaml", url, port, {"tg": {
                "type": "telegram", "token": "${TG_TOKEN}", "api_base_url": fake.url,
                "poll_timeout": 1}})
            daemons.append(Daemon(conf, port, env={"TG_TOKEN": TOKEN}))
        await daemons[0].start(ready_within=30)
        await daemons[1].start(ready_within=30)
        async with aiohttp.ClientSession() as http:
            async def one_holder() -> bool:
                states = [await lease_state(http, d) for d in daemons]
                return sorted(map(str, states)) == ["held", "standby"]

            await until(one_holder, 20, "exactly one process holds the bot")
            states = [await lease_state(http, d) for d in daemons]
            holder, other = (daemons if states[0] == "held" else daemons[::-1])
            seen = await status(other)
            assert sorted(seen["processes"]) == sorted(
                [await process_id(http, d) for d in daemons])
            assert seen["leases"]["connector:tg"]["holder"] == await process_id(http, holder)
            for i in range(5):
                fake.message(7000 + i, f"Lampu jalan mati di gang {i} dekat masjid")

            async def stored(n: int):
                async def check() -> bool:
                    return len(await reports(url)) >= n
                return check

            await until(await stored(5), 20, "the first five messages stored")
            await asyncio.sleep(1.5)  # a few more long polls
            assert fake.max_in_flight == 1  # never two pollers at once

            await holder.kill()  # SIGKILL: no goodbye, the lease just stops being renewed
            for i in range(5, 10):
                fake.message(7000 + i, f"Jalan berlubang di RT {i} belum diperbaiki")

            async def took_over() -> bool:
                return await lease_state(http, other) == "held"

            switch = await until(took_over, 15, "the other process takes over")
            await until(await stored(10), 30, "every message stored")
            got = await reports(url)
            assert len(got) == len(set(got)) == 10  # each exactly once

            async def acknowledged() -> bool:
                chats = {m["chat_id"] for m in fake.sent if "Nomor tiket" in m["text"]}
                return {7000 + i for i in range(5, 10)} <= chats

            await until(acknowledged, 20, "the messages sent during the switch acknowledged")
            print(f"takeover after SIGKILL: {switch:.1f} s")
            seen = await status(other)
            assert seen["leases"]["connector:tg"]["holder"] == await process_id(http, other)
            assert fake.max_in_flight == 1
    finally:
        for d in daemons:
            await d.kill()
        await fake.close()


async def test_sqlite_refuses_a_second_process(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    first = Daemon(write_config(tmp_path / "a.yaml", url, free_port(), {}), 0)
    first.port = int(first.config.read_text().split("port: ")[1].split()[0])
    first.url = f"http://127.0.0.1:{first.port}"
    second_port = free_port()
    second = Daemon(write_config(tmp_path / "b.yaml", url, second_port, {}), second_port)
    await first.start(ready_within=20)
    try:
        with pytest.raises(RuntimeError, match="exited with 1"):
            await second.start(ready_within=20)
        assert "another aggregator process is running" in second.log()
    finally:
        await first.terminate()
