"""Soak: `aggregator run` with every connector against local fakes under steady load
for a long time. Does the process stay flat (memory, open files, database
connections), and is every report still stored exactly once at the end?

    python bench/soak.py [--minutes 30] [--every 1.0] [--sample 10] [--warmup 5]
                         [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Upstreams are the tests' own: a real Dovecot (IMAP, needs root), the aiosmtpd sink,
the fake Bot API, the fake X API and a LAPOR callback receiver, each behind a
pass-through proxy (tests/runtime/stack.py). Every `--every` seconds citizens send
one mail, one Telegram message, one mention on X and one signed webhook report, and
staff reply to a LAPOR ticket (a status callback). Every `--sample` seconds the
daemon's RSS (/proc/PID/status), open file descriptors (/proc/PID/fd) and database
connections (its TCP connections to PostgreSQL, as pg_stat_activity counts them;
the SQLite files it holds open on SQLite) are printed.

Warm-up is the first `--warmup` minutes of load (default 5, at most a third of the
run): caches sized to a working set fill, the pools open their connections and the
database's first pages are read. The bar is on what follows: at the end, RSS growth
from the end of the warm-up (mean of the three samples around it) to the end of the
run (mean of the last three), under 10 %; open files and database connections over
the last quarter (median) no more than the most seen during the warm-up. Keep-alive
sockets (to each upstream, from the load's clients) are printed by kind and left out
of that verdict: a pool holds as many as requests were once in flight together, up to
its limit. The figures of the idle daemon, measured in the same run just after it
started, are the bare baseline. SQLite's own heap (the daemon's /metrics) is printed
beside RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("PYTHONPATH", str(ROOT))

from procstat import fds, open_kinds, tcp_peers  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from storage.db import create_engine, is_sqlite, session_factory  # noqa: E402
from storage.models import Report  # noqa: E402
from tests.connectors.email.dovecot import Dovecot, available  # noqa: E402
from tests.runtime.stack import CHANNELS, Stack  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def db_connections(pid: int, db_url: str, engine: Any) -> int:
    """Connections the daemon holds: on PostgreSQL, the backends pg_stat_activity shows
    for its client ports; on SQLite, its open handles on the database file."""
    if is_sqlite(db_url):
        db = db_url.split("///", 1)[1]
        return sum(1 for t in fds(pid) if t == db)
    from sqlalchemy.engine import make_url

    port = make_url(db_url).port or 5432
    ports = [local for local, remote in tcp_peers(pid) if remote == port]
    if not ports:
        return 0
    async with engine.connect() as conn:
        return int((await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(:p)"),
            {"p": ports})).scalar_one())


async def sqlite_heap_mb(port: int) -> tuple[float, float]:
    """The daemon's SQLite heap, page caches and the rest (its /metrics), 0 where it
    has none to show."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{port}/metrics") as resp:
        parts = {line.split('"')[1]: float(line.split()[-1]) / 2**20
                 for line in (await resp.text()).splitlines()
                 if line.startswith("aggregator_sqlite_heap_bytes{")}
    return parts.get("page_cache", 0.0), parts.get("other", 0.0)


async def stored(engine: Any) -> int:
    async with session_factory(engine, read_only=True)() as s:
        return int((await s.execute(select(func.count()).select_from(Report))).scalar_one())


async def load(stack: Stack, every: float, stop: asyncio.Event) -> list[BaseException]:
    """A round every `every` seconds until `stop`; returns the rounds' failures (a
    webhook report the daemon never accepted), which must not cost the figures."""
    rounds: set[asyncio.Task[None]] = set()
    failed: list[BaseException] = []

    def done(task: asyncio.Task[None]) -> None:
        rounds.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())  # type: ignore[arg-type]

    while not stop.is_set():
        task = asyncio.create_task(stack.round())
        rounds.add(task)
        task.add_done_callback(done)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
    await asyncio.gather(*rounds, return_exceptions=True)
    return failed


async def soak(args: argparse.Namespace, db_url: str, tmp: Path, dovecot: Dovecot) -> int:
    stack = await Stack(db_url, tmp, dovecot, x_poll_interval=2.5).start()
    assert stack.daemon is not None and stack.daemon.proc is not None
    pid = stack.daemon.proc.pid
    engine = create_engine(db_url, read_only=is_sqlite(db_url))
    samples: list[dict[str, float]] = []
    kinds: list[tuple[float, Counter[str]]] = []  # what the open files are, per sample
    upstreams = {proxy.port: name for name, proxy in stack.proxies.items()}
    try:
        await asyncio.sleep(3)
        bare = {"rss": rss_mb(pid), "fds": len(fds(pid)),
                "own": own_files(open_kinds(pid, upstreams, stack.daemon.port)),
                "db": await db_connections(pid, db_url, engine)}
        print(f"idle daemon (bare baseline): RSS {bare['rss']:.1f} MB, {bare['fds']} fds, "
              f"{bare['db']} db connections", flush=True)
        print(f"{'t(s)':>6} {'RSS MB':>8} {'sqlite':>7} {'rest':>5} {'fds':>5} {'db':>4} "
              f"{'sent':>7} {'stored':>7}", flush=True)
        stop = asyncio.Event()
        writer = asyncio.create_task(load(stack, args.every, stop))
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            await asyncio.sleep(min(args.sample, max(0.0, end - time.monotonic())))
            cache, rest = await sqlite_heap_mb(stack.daemon.port)
            row = {"t": time.monotonic() - t0, "rss": rss_mb(pid), "sqlite": cache + rest,
                   "sqlite_rest": rest, "fds": len(fds(pid)),
                   "db": await db_connections(pid, db_url, engine),
                   "sent": sum(len(v) for v in stack.sent.tags.values()),
                   "stored": await stored(engine)}
            kind = open_kinds(pid, upstreams, stack.daemon.port)
            row["own"] = own_files(kind)
            samples.append(row)
            kinds.append((row["t"], kind))
            print(f"{row['t']:6.0f} {row['rss']:8.1f} {row['sqlite']:7.1f} "
                  f"{row['sqlite_rest']:5.1f} {row['fds']:5.0f} {row['db']:4.0f} "
                  f"{row['sent']:7.0f} {row['stored']:7.0f}", flush=True)
        stop.set()
        failed = await writer
        for exc in failed[:5]:
            print(f"round failed: {exc!r}")
        lost = await drained(stack) + len(failed)
    finally:
        await engine.dispose()
        await stack.close()
    warmup = min(args.warmup, args.minutes / 3) * 60
    ok = summarize(samples, bare, warmup)
    print_kinds(kinds, warmup)
    print(f"reports sent {sum(len(v) for v in stack.sent.tags.values())}, "
          f"not stored exactly once: {lost}")
    return 1 if lost or not ok else 0


def own_files(kinds: Counter[str]) -> int:
    """Open files but the keep-alive sockets (to upstreams, from clients)."""
    return sum(n for k, n in kinds.items() if k not in POOLED and not k.startswith("to "))


async def drained(stack: Stack, within: float = 120.0) -> int:
    """Wait for every report to be stored; returns how many are missing or doubled."""
    deadline = time.monotonic() + within
    while True:
        got = await stack.stored_tags()
        wrong = {c: (sorted(set(stack.sent.tags[c]) - set(got[c])),
                     sorted(t for t, n in Counter(got[c]).items() if n > 1)) for c in CHANNELS}
        bad = sum(len(missing) + len(twice) for missing, twice in wrong.values())
        if not bad or time.monotonic() > deadline:
            for c, (missing, twice) in wrong.items():
                if missing or twice:
                    print(f"{c}: missing {missing[:20]}, stored twice {twice[:20]}")
            return bad
        await asyncio.sleep(1)


RSS_BAR = 10.0  # % growth allowed after the warm-up
# Keep-alive connections, to each upstream and from the load's clients: a pool holds
# as many as requests were once in flight together, up to its limit, so one more late
# in the run says the load peaked, not that anything leaks. Printed by kind, and
# left out of the open-files verdict, which is on everything else the daemon holds.
POOLED = ("from clients",)


def print_kinds(kinds: list[tuple[float, Counter[str]]], warmup: float) -> None:
    """Open files by kind: the most during the warm-up, the last quarter's median and
    most. Connections to an upstream are a client's keep-alive pool: they follow how
    many requests to it were once in flight together, up to the pool's limit."""
    during = [k for t, k in kinds if t < warmup]
    after = [k for t, k in kinds if t >= warmup]
    last = after[-max(1, len(after) // 4):]
    if not during or not last:
        return
    print("open files by kind: most during warm-up / last quarter's median (most)")
    for name in sorted({n for _, k in kinds for n in k}):
        print(f"  {name:>16}: {max(k[name] for k in during):3d} / "
              f"{statistics.median(k[name] for k in last):5.1f} ({max(k[name] for k in last)})")


def summarize(samples: list[dict[str, float]], bare: dict[str, float], warmup: float) -> bool:
    """Print the growth figures the bar is on; True when within it."""
    during = [s for s in samples if s["t"] < warmup]
    after = [s for s in samples if s["t"] >= warmup]
    if len(after) < 6 or not during:
        print("too few samples after warm-up for growth figures")
        return False
    head, tail = after[:3], after[-3:]

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return statistics.fmean(r[key] for r in rows)

    rss0, rss1 = mean(head, "rss"), mean(tail, "rss")
    growth = (rss1 / rss0 - 1) * 100
    # The slope over the last half says whether growth is still going on.
    half = after[len(after) // 2:]
    span = (half[-1]["t"] - half[0]["t"]) / 600 or 1.0
    slope = (mean(half[-3:], "rss") - mean(half[:3], "rss")) / span
    print(f"warm-up: first {warmup / 60:.1f} min; after it {len(after)} samples, "
          f"t={after[0]['t']:.0f}s..{after[-1]['t']:.0f}s")
    print(f"RSS {rss0:.1f} -> {rss1:.1f} MB ({growth:+.1f} %, bar {RSS_BAR:.0f} %; "
          f"last half {slope:+.1f} MB per 10 min; max {max(s['rss'] for s in after):.1f}; "
          f"{rss1 / bare['rss']:.2f}x the idle daemon's {bare['rss']:.1f})")
    if mean(tail, "sqlite"):
        print(f"of which SQLite's heap {mean(head, 'sqlite'):.1f} -> {mean(tail, 'sqlite'):.1f} MB"
              f" (besides its page caches {mean(head, 'sqlite_rest'):.1f} -> "
              f"{mean(tail, 'sqlite_rest'):.1f})")
    verdicts = [growth < RSS_BAR]
    # Open files and connections come and go with requests in flight: the last
    # quarter's median (not one sample, which may fall in a stall) against the most
    # the warm-up saw.
    last = after[-max(3, len(after) // 4):]
    for key, label in (("own", "open files but keep-alive sockets"),
                       ("db", "db connections")):
        warm = max(s[key] for s in during)
        late = statistics.median(s[key] for s in last)
        verdicts.append(late <= warm)
        print(f"{label}: idle {bare[key]:.0f}, max during warm-up {warm:.0f}, "
              f"after it {mean(head, key):.1f} -> {mean(tail, key):.1f} "
              f"(last quarter's median {late:.0f}, max {max(s[key] for s in after):.0f})")
    print("flat: " + ("yes" if all(verdicts) else "NO"))
    return all(verdicts)


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=float, default=1.0, help="seconds between rounds")
    p.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=5.0,
                   help="minutes of load before growth counts (at most a third of the run)")
    p.add_argument("--pg", help="PostgreSQL URL (a fresh schema is made and dropped)")
    args = p.parse_args()
    if reason := available():
        print(f"cannot soak: {reason}")
        return 2
    dovecot = Dovecot(users=2).start()
    tmp = Path(tempfile.mkdtemp(prefix="soak"))
    schema = None
    try:
        if args.pg:
            schema = f"soak_{uuid.uuid4().hex[:8]}"
            await _pg(args.pg, f'CREATE SCHEMA "{schema}"')
            db_url = f"{args.pg}{'&' if '?' in args.pg else '?'}search_path={schema}"
        else:
            db_url = f"sqlite+aiosqlite:///{tmp / 'soak.db'}"
        print(f"soak: {args.minutes} min, a round every {args.every}s, "
              f"{'PostgreSQL' if args.pg else 'SQLite'}", flush=True)
        return await soak(args, db_url, tmp, dovecot)
    finally:
        dovecot.stop()
        if schema:
            await _pg(args.pg, f'DROP SCHEMA "{schema}" CASCADE')


async def _pg(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
