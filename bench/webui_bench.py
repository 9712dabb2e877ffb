"""Web UI speed with 100,000 tickets and 300,000 reports: server time of the queue page,
the ticket page and search, against a bare aiohttp handler measured in the same run.

    python bench/webui_bench.py [--db URL] [--tickets N] [--reports N] [--requests N]
                                [--keep DIR]

Without --db the data goes to a fresh SQLite file (kept in --keep DIR for re-runs); with
a PostgreSQL URL it goes to the schema named by `?search_path=` (created, and filled
only when empty). The service is the real one (aiohttp app, features, middlewares);
requests go over a keep-alive connection one at a time. "server" is the page's own
Server-Timing (session check, queries, rendering); "client" adds HTTP and the network
stack; "cpu" is the process CPU time the page took (what it costs without other
processes competing for the cores). The ratio divides the client median by the bare
handler's median in this run, so slow or busy machines compare fairly. Targets:
queue and ticket p95 < 100 ms, search p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from aggregator.config import parse
from aggregator.runtime.service import Service
from aggregator.webui import sessions as ws
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Ticket, User

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webui_data import generate  # noqa: E402  (a sibling script, not a package)

TARGETS = {"queue": 100.0, "ticket": 100.0, "search": 200.0}


async def prepare(url: str, n_tickets: int, n_reports: int) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        schema = parsed.query.get("search_path")
        if not schema:
            raise SystemExit("give the PostgreSQL URL a ?search_path=SCHEMA for the data")
        admin = create_engine(parsed.difference_update_query(["search_path"])
                              .render_as_string(hide_password=False))
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await admin.dispose()
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.connect() as conn:
        have = (await conn.execute(select(func.count()).select_from(Ticket))).scalar_one()
    if have == 0:
        t0 = time.perf_counter()
        print(f"generating {n_tickets:,} tickets and {n_reports:,} reports ...", flush=True)
        await generate(engine, n_tickets, n_reports)
        print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    else:
        print(f"reusing {have:,} tickets")
    await engine.dispose()


async def bare_server() -> tuple[web.AppRunner, str]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="<p>ok</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/"


async def session_cookie(svc: Service, name: str, role: str, units: list[str]) -> str:
    async with svc.sessions() as session, session.begin():
        user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
        if user is None:
            user = User(name=name, role=role, password_hash=None, disabled=False, units=units)
            session.add(user)
            await session.flush()
        return await ws.create(session, user.id, "bench", svc.settings.webui.session_lifetime)


async def measure(http: aiohttp.ClientSession, urls: list[str], cookie: str | None
                  ) -> tuple[list[float], list[float], list[float]]:
    client, server, cpu = [], [], []
    headers = {"Cookie": f"{ws.COOKIE}={cookie}"} if cookie else {}
    for url in urls[:3]:  # warm up
        async with http.get(url, headers=headers) as r:
            await r.read()
    for url in urls:
        t0 = time.perf_counter()
        async with http.get(url, headers=headers, allow_redirects=False) as r:
            await r.read()
            assert r.status == 200, (url, r.status)
            timing = r.headers.get("Server-Timing", "")
        client.append((time.perf_counter() - t0) * 1000)
        parts = dict(p.strip().split(";dur=") for p in timing.split(",") if ";dur=" in p)
        if parts:
            server.append(float(parts["app"]))
            cpu.append(float(parts["cpu"]))
    return client, server, cpu


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--reports", type=int, default=300_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--keep", default=None, help="folder for the SQLite file (re-runs)")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp())
    url = args.db or f"sqlite+aiosqlite:///{folder / 'webui_bench.db'}"
    await prepare(url, args.tickets, args.reports)
    settings = parse({"database": {"url": url}, "web": {"port": 0},
                      "logging": {"format": "text", "level": "WARNING"},
                      "dedup": {"enabled": False}, "virality": {"enabled": False}},
                     base_dir=folder, env={})
    svc = Service(settings)
    await svc.start()
    runner, bare_url = await bare_server()
    admin = await session_cookie(svc, "bench-admin", "admin", [])
    agent = await session_cookie(svc, "bench-agent", "agent", ["Dinas Kesehatan", "PDAM"])
    rng = random.Random(3)
    n = args.requests
    base = svc.web_url
    numbers = [f"ADU-2026-{rng.randint(1, args.tickets):06d}" for _ in range(n)]
    words = ["jalan", "obat kosong", '"lampu jalan" -mati', "kelor 1234", "pdam keruh",
             "tumbang or banjir", "zzzyx"]
    cases: list[tuple[str, str, list[str], str | None]] = [
        ("bare aiohttp handler", "", [bare_url] * n, None),
        ("queue (admin, open)", "queue", [f"{base}/ui/queue"] * n, admin),
        ("queue (agent, my unit)", "queue", [f"{base}/ui/queue?view=unit"] * n, agent),
        ("queue (filters: channel+priority)", "queue",
         [f"{base}/ui/queue?state=all&channel=telegram&priority=urgent"] * n, admin),
        ("ticket page", "ticket", [f"{base}/ui/tickets/{x}" for x in numbers], admin),
        ("ticket page (busiest tickets)", "ticket",
         [f"{base}/ui/tickets/ADU-2026-{rng.randint(1, 50):06d}" for _ in range(n)], admin),
        ("search (mixed words)", "search",
         [f"{base}/ui/queue?state=all&q={words[i % len(words)]}" for i in range(n)], admin),
        ("search (ticket number)", "search",
         [f"{base}/ui/queue?state=all&q={x}" for x in numbers], agent),
        ("live poll (changes)", "queue", [f"{base}/ui/queue/changes?since=2000-01-01"] * n,
         admin),
    ]
    print(f"\ndb={make_url(url).get_backend_name()} tickets={args.tickets:,} "
          f"reports={args.reports:,} requests/case={n}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'case':36} {'server p50':>10} {'p95':>7} {'cpu p95':>8} {'client p50':>10} "
          f"{'p95':>7} {'x bare':>7}  target (server p95)")
    failed = []
    bare_p50 = 1.0
    async with aiohttp.ClientSession() as http:
        for name, kind, urls, cookie in cases:
            client, server, cpu = await measure(http, urls, cookie)
            if not kind:
                bare_p50 = statistics.median(client)
                print(f"{name:36} {'':>10} {'':>7} {'':>8} {bare_p50:10.2f} "
                      f"{pct(client, .95):7.2f}")
                continue
            s50, s95 = statistics.median(server), pct(server, .95)
            verdict = "ok" if s95 < TARGETS[kind] else "SLOW"
            if verdict != "ok":
                failed.append(name)
            print(f"{name:36} {s50:10.1f} {s95:7.1f} {pct(cpu, .95):8.1f} "
                  f"{statistics.median(client):10.1f} {pct(client, .95):7.1f} "
                  f"{statistics.median(client) / bare_p50:7.1f}  "
                  f"<{TARGETS[kind]:.0f} ms {verdict}")
    await runner.cleanup()
    await svc.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("all within targets" if not failed else f"over target: {', '.join(failed)}")


if __name__ == "__main__":
    asyncio.run(main())
