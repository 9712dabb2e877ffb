"""The webhook's rate limits hold for the whole deployment: two `aggregator run`
processes on one PostgreSQL database together accept no more than the configured
burst from one client, while a process on its own still accepts all of it.

Each phase is a different client address (X-Forwarded-For through a trusted proxy),
so it starts with a full allowance."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.connectors.webhook.harness import SECRET, Sender, complaint
from tests.core.daemon import Daemon, free_port, write_config

BURST = 6


async def processes(http: aiohttp.ClientSession, d: Daemon) -> int | None:
    try:
        async with http.get(f"{d.url}/healthz") as resp:
            return int((await resp.json())["processes"])
    except (aiohttp.ClientError, KeyError):
        return None


async def until_every_one_counts(http: aiohttp.ClientSession, daemons: list[Daemon],
                                 within: float = 20) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        if [await processes(http, d) for d in daemons] == [len(daemons)] * len(daemons):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the processes did not count {len(daemons)} in time")


async def accepted(http: aiohttp.ClientSession, daemons: list[Daemon], client: str,
                   n: int) -> list[int]:
    """Post `n` complaints from `client`, round-robin over `daemons`; how many each
    process accepted (answered 201)."""
    counts = [0] * len(daemons)
    for i in range(n):
        which = i % len(daemons)
        sender = Sender(http, daemons[which].url + "/hooks/lapor")
        status, _, _ = await sender.post(complaint(f"{client}-{i}"),
                                         headers={"X-Forwarded-For": client})
        assert status in (201, 429), status
        counts[which] += status == 201
    return counts


async def test_two_processes_together_accept_the_configured_burst(tmp_path, pg_db_url):
    daemons: list[Daemon] = []
    for name in ("a", "b"):
        port = free_port()
        conf = write_config(
            tmp_path / f"{name}.yaml", pg_db_url, port,
            {"lapor": {"type": "webhook", "secret": SECRET, "rate_limit": {
                # Almost no refill during the test: what passes is the burst.
                "per_client_rate": 0.01, "per_client_burst": BURST}}},
            web={"host": "127.0.0.1", "port": port, "trusted_proxies": ["127.0.0.1/32"]})
        daemons.append(Daemon(conf, port))
    a, b = daemons
    try:
        async with aiohttp.ClientSession() as http:
            await a.start(ready_within=30)
            await until_every_one_counts(http, [a])
            assert await accepted(http, [a], "198.51.100.1", 10) == [BURST]

            await b.start(ready_within=30)
            await until_every_one_counts(http, [a, b])
            # Round-robin (as a proxy in front would): the total is the burst.
            assert await accepted(http, [a, b], "198.51.100.2", 10) == [3, 3]
            # Every request on one process: only that process's share (the trade-off).
            assert await accepted(http, [a], "198.51.100.3", 10) == [3]

            # One process stops: the other takes the whole allowance again.
            code, _ = await b.terminate()
            assert code == 0
            await until_every_one_counts(http, [a], within=10)
            assert await accepted(http, [a], "198.51.100.4", 10) == [BURST]
    finally:
        for d in daemons:
            await d.kill()
