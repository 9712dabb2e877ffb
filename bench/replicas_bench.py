"""Several processes on one PostgreSQL database under webhook load: does throughput hold
(or grow) with more processes, and does p99 stay put?

    python bench/replicas_bench.py [--processes 1,2,4] [--seconds 15] [--concurrency 64]
                                   [--city NAME]
                                   [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]

For each process count: that many `aggregator run` daemons on a fresh schema, one load
generator process per daemon (signed ~1 KB reports, concurrency split evenly), then the
totals: accepted reports/s, p50/p99 of 2xx answers, and "lost" (2xx answers the database
does not hold: must be 0). A bare aiohttp handler measured in the same run gives the
ratio. On two cores shared with the generators and PostgreSQL, more processes cannot add
CPU; the point is that nothing serialises on a lock or a hot row (the throughput must not
fall, and p99 must not climb, as processes are added).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from procstat import cpu_seconds, machine_cpu, tcp_peers  # noqa: E402
from webhook_bench import SECRET, bare_target, run_generator, wait_generator  # noqa: E402

# pg_stat_activity's wait events, grouped by what they say about the bottleneck.
WAITS = {"Lock": "lock", "LWLock": "lwlock", "IO": "io", "Client": "daemon"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def healthy(url: str, within: float = 60.0) -> None:
    import aiohttp

    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - t0 < within:
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


async def run_processes(n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from sqlalchemy import text

    from storage.db import create_engine

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg)
    async with admin.begin() as c:
        await c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.pg}{'&' if '?' in args.pg else '?'}search_path={schema}"
    procs: list[asyncio.subprocess.Process] = []
    try:
        urls = []
        for i in range(n):
            port = free_port()
            conf = tmp / f"p{n}-{i}.yaml"
            conf.write_text(yaml.safe_dump({
                "database": {"url": url}, "web": {"port": port},
                "logging": {"format": "json", "level": "WARNING"},
                "connectors": {"lapor": {"type": "webhook", "secret": SECRET, "rate_limit": {
                    "rate": 1e6, "burst": 1e6, "per_client_rate": 1e6,
                    "per_client_burst": 1e6}}}}))
            env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aggregator", "--config", str(conf), "run", env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
            await healthy(urls[-1])  # one at a time: the first one migrates
        share = argparse.Namespace(seconds=args.seconds, city=args.city,
                                   concurrency=max(1, args.concurrency // n))
        gens = [run_generator(f"{u}/hooks/lapor", share, f"n{n}-{i}")
                for i, u in enumerate(urls)]
        pids = [p.pid for p in procs]
        tally = Tally()
        watch = asyncio.create_task(watch_backends(admin, pids, tally))
        cpu0, busy0, t0 = await cpu_now(admin, pids), machine_cpu()[0], time.monotonic()
        results = [await wait_generator(g) for g in gens]
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        spent = time.monotonic() - t0
        cpu = cpu_spent(cpu0, await cpu_now(admin, pids), spent)
        cpu["generators"] = sum(r["cpu_s"] for r in results) / spent
        cpu["everything else"] = max(0.0, (machine_cpu()[0] - busy0) / spent - sum(cpu.values()))
        async with admin.connect() as c:
            stored = (await c.execute(text(f'SELECT count(*) FROM "{schema}".reports'))
                      ).scalar_one()
        ok = sum(r["ok"] for r in results)
        # Percentiles of every answer pooled: the worst of n generators' p99s would
        # climb with n by sampling alone (each sees 1/n of the answers).
        pooled = sorted(t for r in results for t in r["latencies_ms"])
        return {"ok": ok, "rate": ok / max(r["elapsed"] for r in results),
                "p50_ms": percentile(pooled, 0.50), "p99_ms": percentile(pooled, 0.99),
                "lost": max(0, ok - stored),
                "errors": sum(r["sent"] - r["ok"] for r in results),
                "cpu": cpu, "waits": tally}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await asyncio.wait_for(p.wait(), 30)
        async with admin.begin() as c:
            await c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


class Tally(dict[str, int]):
    """Samples of the daemons' database backends by state: on CPU, waiting for a lock
    (advisory or row: reports queueing for each other), idle in a transaction (the
    daemon, not the database, is the one working), idle."""


async def watch_backends(admin: Any, pids: list[int], tally: Tally, every: float = 0.1
                         ) -> None:
    from sqlalchemy import text

    while True:
        ports = [local for pid in pids for local, remote in tcp_peers(pid) if remote == 5432]
        async with admin.connect() as c:
            rows = (await c.execute(text(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE client_port = ANY(:p)"), {"p": ports})).all()
        for state, wtype, wevent in rows:
            if state == "active":
                key = WAITS.get(wtype or "", "other wait") if wtype else "cpu"
                if key == "lock":
                    key = f"lock ({wevent})"
            else:
                key = "in transaction" if state and state.startswith("idle in") else "idle"
            tally[key] = tally.get(key, 0) + 1
        await asyncio.sleep(every)


async def cpu_now(admin: Any, daemons: list[int]) -> dict[str, float]:
    """CPU seconds so far of the daemons and PostgreSQL's backends (every backend: the
    pools keep theirs for the run). The generators count their own."""
    from sqlalchemy import text

    async with admin.connect() as c:
        backends = (await c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"))
        ).scalars().all()
    return {"daemons": sum(cpu_seconds(p) for p in daemons),
            "postgres": sum(cpu_seconds(p) for p in backends)}


def cpu_spent(before: dict[str, float], after: dict[str, float], seconds: float
              ) -> dict[str, float]:
    """Cores each group kept busy over the run ("everything else": the rest of the
    machine's busy time, this bench included)."""
    return {k: (after[k] - before[k]) / seconds for k in before}


def describe(r: dict[str, Any]) -> str:
    cores = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu"].items())
    total = sum(r["waits"].values()) or 1
    states = ", ".join(f"{k} {v / total:.0%}" for k, v in
                       sorted(r["waits"].items(), key=lambda kv: -kv[1]))
    return (f"    cores busy: {cores} (total {sum(r['cpu'].values()):.2f} of "
            f"{os.cpu_count()})\n    database backends: {states}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--city", help="every report names this city (see webhook_bench.py)")
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    bare = await bare_target(args)
    print(f"bare aiohttp handler        {bare['rate']:8.0f} req/s  p99 {bare['p99_ms']:6.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.processes.split(",")):
            r = await run_processes(n, args, Path(tmp))
            print(f"{n} process(es) on PostgreSQL {r['rate']:8.0f} req/s  "
                  f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                  f"ratio {r['rate'] / bare['rate']:.3f}  lost {r['lost']}  "
                  f"errors {r['errors']}")
            print(describe(r), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
