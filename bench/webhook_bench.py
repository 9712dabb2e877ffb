"""Webhook intake throughput: signed ~1 KB reports from a separate load-generator
process against (1) a bare aiohttp handler that only parses JSON and (2) the whole
service (webhook connector -> group-commit ingest -> SQLite), in the same run so the
ratio stands even when the machine drifts.

    python bench/webhook_bench.py [--seconds 20] [--concurrency 64] [--db URL] [--burst]
                                  [--city NAME]
                                  [--dedup both|on|off] [--profile FILE] [--spy FILE]

`--burst` posts near-identical tellings of one incident (the viral case: every report
is a near-duplicate of one big ticket) instead of distinct reports.

Prints accepted reports/s, p50/p99 latency of 2xx answers, errors, and "lost": 2xx
answers the database does not hold (must be 0). `--profile` writes a cProfile of the
service process while it is under load (view with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdef"
WORDS = ("jalan rusak berlubang lampu mati sampah menumpuk antrian lama petugas tidak ramah "
         "obat kosong puskesmas kelurahan kecamatan pungutan liar banjir drainase tersumbat "
         "pelayanan lambat izin usaha sertifikat tanah bantuan sosial tidak tepat sasaran "
         "air bersih listrik padam sekolah rusak guru honorer parkir liar macet terminal").split()
SYLLABLES = [c + v for c in "bcdghjklmnprstw" for v in "aiueo"]
# A fixed pool of made-up street and village names: reports differ by combination
# (as real ones do), over a bounded vocabulary (as real ones have).
_rng = random.Random(7)
PLACES = sorted({"".join(_rng.choice(SYLLABLES) for _ in range(2 + i % 3)).title()
                 for i in range(2000)})

# --------------------------------------------------------------------------- generator


# Text made ahead: building 110 random words per request cost more than the server's
# work on it. Two halves picked by the report number keep every text distinct.
PARTS = [" ".join(_rng.choice(WORDS) if _rng.random() < 0.5 else _rng.choice(PLACES)
                  for _ in range(55)) for _ in range(1000)]


# --burst: one incident told again and again (a viral moment), each telling a little
# different, as people copy, shorten and add to what others posted.
BURST = ("Banjir setinggi lutut orang dewasa merendam Jalan Kaliurang km 5 sampai depan "
         "Pasar Kolombo sejak subuh tadi. Saluran drainase di sepanjang jalan tersumbat "
         "sampah dan lumpur, air meluap ke rumah warga dan ke dalam toko. Motor banyak yang "
         "mogok, anak sekolah tidak bisa lewat, angkutan umum berhenti. Kami sudah lapor ke "
         "kelurahan minggu lalu tapi belum ada petugas yang datang membersihkan saluran. "
         "Mohon Dinas PU segera mengirim alat dan petugas, air terus naik karena hujan "
         "belum berhenti dan warga lanjut usia mulai kesulitan keluar rumah. ")
ASIDES = ("tolong cepat", "sudah dua jam", "parah sekali", "anak saya terjebak", "foto terlampir",
          "warga RT 03 juga", "mohon perhatian", "lagi hujan deras", "tidak ada petugas",
          "jalan ditutup")


def body(run: str, i: int, burst: bool = False, city: str | None = None) -> bytes:
    if burst:
        rnd = random.Random(i)
        doc = {"id": f"{run}-{i}", "channel": "web-form", "category": "banjir",
               "text": BURST + ", ".join(rnd.sample(ASIDES, 3)) + f". ({i})",
               "reporter": {"name": f"Warga {i % 5000}", "phone": f"0812{i % 5000:07d}"}}
        return json.dumps(doc).encode()
    doc = {
        "id": f"{run}-{i}", "channel": "web-form", "category": ("jalan", "kesehatan")[i % 2],
        "title": f"Laporan warga {i}",
        "text": f"Laporan {run} nomor {i}{f' dari Kota {city}' if city else ''}: "
                f"{PARTS[i % 1000]} {PARTS[(i // 1000 + 7 * i) % 1000]}",
        "reporter": {"name": f"Warga {i % 5000}", "phone": f"0812{i % 5000:07d}"},
        "location": {"lat": -6.2 + (i % 997) / 10_000, "lon": 106.8 + (i % 991) / 10_000},
    }
    return json.dumps(doc).encode()


async def generate(url: str, seconds: float, concurrency: int, run: str,
                   burst: bool = False, city: str | None = None) -> dict[str, Any]:
    from connectors.webhook.signing import sign_headers

    counter = iter(range(10**9))
    latencies: list[float] = []
    codes: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    key = SECRET.encode()

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            data = body(run, next(counter), burst, city)
            headers = {"Content-Type": "application/json", **sign_headers(key, data, time.time())}
            t0 = time.perf_counter()
            try:
                async with http.post(url, data=data, headers=headers) as resp:
                    await resp.read()
                    status = str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            codes[status] = codes.get(status, 0) + 1
            if status.startswith("2"):
                latencies.append(time.perf_counter() - t0)

    conn = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies \
            else float("nan")

    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    return {"ok": ok, "codes": codes, "elapsed": elapsed, "rate": ok / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "sent": sum(codes.values()),
            "cpu_s": time.process_time() - cpu,
            # Each 2xx answer's latency, so several generators' figures pool exactly.
            "latencies_ms": [round(t * 1000, 2) for t in latencies]}


def run_generator(url: str, args: argparse.Namespace, run: str) -> subprocess.Popen[bytes]:
    """The load generator in its own process, so it does not share our CPU time slice."""
    cmd = [sys.executable, __file__, "--generate", url, "--seconds", str(args.seconds),
           "--concurrency", str(args.concurrency), "--run", run]
    if getattr(args, "burst", False):  # replicas_bench shares this generator
        cmd.append("--burst")
    if getattr(args, "city", None):
        cmd += ["--city", args.city]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)


def start_spy(args: argparse.Namespace, dedup: bool) -> subprocess.Popen[bytes]:
    """py-spy on this process: samples every thread, aiosqlite's included."""
    out = f"{args.spy}.dedup-{'on' if dedup else 'off'}.txt"
    return subprocess.Popen(
        ["py-spy", "record", "-p", str(os.getpid()), "-d", str(int(args.seconds)), "-r", "100",
         "--threads", "--format", "raw", "-o", out],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_generator(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, _ = await asyncio.to_thread(proc.communicate)
    return json.loads(out)


# --------------------------------------------------------------------------- targets


async def bare_target(args: argparse.Namespace) -> dict[str, Any]:
    """The floor: aiohttp reading and parsing the same JSON, nothing else."""

    async def handle(request: web.Request) -> web.Response:
        doc = json.loads(await request.read())
        return web.json_response({"ticket": "ADU-0", "report_id": doc["id"]}, status=201)

    app = web.Application()
    app.router.add_post("/hooks/lapor", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        proc = run_generator(f"http://127.0.0.1:{port}/hooks/lapor", args, "bare")
        return await wait_generator(proc)
    finally:
        await runner.cleanup()


async def service_target(args: argparse.Namespace, tmp: Path, dedup: bool) -> dict[str, Any]:
    from sqlalchemy import func, select

    from aggregator.config import parse
    from aggregator.runtime.service import Service
    from storage.models import Report

    url = args.db or f"sqlite+aiosqlite:///{tmp / f'bench-{dedup}.db'}"
    raw: dict[str, Any] = {
        "database": {"url": url},
        "web": {"host": "127.0.0.1", "port": 0},
        "logging": {"level": "WARNING", "format": "text"},
        "connectors": {"lapor": {"type": "webhook", "secret": SECRET,
                                 "rate_limit": {"rate": 0, "per_client_rate": 0}}},
    }
    raw["dedup"] = {"enabled": dedup}
    settings = parse(raw, base_dir=tmp, env={})
    svc = Service(settings)
    batches = watch_batches(svc)
    statements = count_statements(svc)
    await svc.start()
    lags: list[float] = []
    probe = asyncio.create_task(loop_lag(lags))
    profiler = cProfile.Profile() if args.profile else None
    try:
        proc = run_generator(f"{svc.web_url}/hooks/lapor", args, f"svc{int(dedup)}")
        spy = start_spy(args, dedup) if args.spy else None
        if profiler:
            profiler.enable()
        result = await wait_generator(proc)
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.dedup-{'on' if dedup else 'off'}")
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        async with svc.sessions() as session:
            stored = (await session.execute(
                select(func.count()).select_from(Report).where(Report.source == "lapor")
            )).scalar_one()
        result["stored"] = stored
        result["batches"] = batches
        result["statements"] = statements[0]
        lags.sort()
        result["lag_ms"] = (1000 * lags[len(lags) // 2], 1000 * lags[int(0.99 * len(lags))]) \
            if lags else (0.0, 0.0)
        result["lost"] = max(0, result["ok"] - stored)
        result["stored_without_2xx"] = max(0, stored - result["ok"])
    finally:
        probe.cancel()
        await svc.stop()
    return result


def watch_batches(svc: Any) -> list[tuple[int, float]]:
    """(reports, seconds) of every ingest transaction: is the single writer the
    bottleneck (busy all the time) or is it waiting for work? Measurement only."""
    seen: list[tuple[int, float]] = []
    inner = svc.ingestor._transaction

    async def timed(jobs: list[Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return await inner(jobs)
        finally:
            seen.append((sum(len(j.reports) for j in jobs), time.perf_counter() - t0))

    svc.ingestor._transaction = timed
    return seen


def count_statements(svc: Any) -> list[int]:
    """SQL statements sent; each one is a hop to aiosqlite's thread and back."""
    from sqlalchemy import event

    seen = [0]

    @event.listens_for(svc.engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        seen[0] += 1

    return seen


async def loop_lag(out: list[float]) -> None:
    """How long one pass of the event loop takes: what every await waits extra."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(0)
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(0.01)


def batch_line(r: dict[str, Any]) -> str:
    b = r["batches"]
    if not b:
        return ""
    sizes = sorted(n for n, _ in b)
    times = sorted(t for _, t in b)
    busy = sum(times) / r["elapsed"]
    return (f"{'':<34} ingest: {len(b)} transactions, {sum(sizes) / len(b):.1f} reports "
            f"each (max {sizes[-1]}), {1000 * sum(times) / len(b):.1f} ms each "
            f"(p99 {1000 * times[int(0.99 * (len(times) - 1))]:.1f}), writer busy {busy:.0%}\n"
            f"{'':<34} {r['statements'] / len(b):.1f} SQL statements a transaction; "
            f"event loop pass p50 {r['lag_ms'][0]:.1f} ms, p99 {r['lag_ms'][1]:.1f} ms")


def line(name: str, r: dict[str, Any]) -> str:
    errors = {k: v for k, v in r["codes"].items() if not k.startswith("2")}
    return (f"{name:<34} {r['rate']:>9.0f}/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  2xx {r['ok']:>6}  errors {errors or 0}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--dedup", choices=["both", "on", "off"], default="both",
                    help="near-duplicate matching in the service runs (default: both)")
    ap.add_argument("--profile", help="write cProfiles of the service runs to FILE.dedup-*")
    ap.add_argument("--spy", help="py-spy the service runs into FILE.dedup-*.txt (raw)")
    ap.add_argument("--switch-interval", type=float,
                    help="sys.setswitchinterval for the service process (GIL hand-off, s)")
    ap.add_argument("--burst", action="store_true",
                    help="near-identical reports of one incident (a viral moment)")
    ap.add_argument("--city", help="distinct reports each say \"dari Kota CITY\" (a city's "
                                   "agency hears its city named in nearly every report)")
    ap.add_argument("--generate", help=argparse.SUPPRESS)
    ap.add_argument("--run", default="x", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        print(json.dumps(await generate(args.generate, args.seconds, args.concurrency,
                                        args.run, args.burst, args.city)))
        return
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    print(f"webhook bench: {args.seconds:.0f} s per target, {args.concurrency} connections, "
          f"{len(body('x', 0, args.burst))} B {'burst ' if args.burst else ''}bodies, "
          f"{os.cpu_count()} CPUs")
    bare = await bare_target(args)
    print(line("bare aiohttp (parse JSON only)", bare), flush=True)
    db = "SQLite" if not args.db else args.db.split(":", 1)[0]
    modes = {"both": [False, True], "off": [False], "on": [True]}[args.dedup]
    for dedup in modes:
        with tempfile.TemporaryDirectory() as tmp:
            svc = await service_target(args, Path(tmp), dedup)
        print(line(f"service, {db}, dedup {'on' if dedup else 'off'}", svc))
        print(f"{'':<34} stored {svc['stored']}  lost {svc['lost']}  "
              f"stored without 2xx {svc['stored_without_2xx']}  "
              f"service/bare {svc['rate'] / bare['rate']:.2f}")
        print(batch_line(svc), flush=True)

if __name__ == "__main__":
    asyncio.run(main())
