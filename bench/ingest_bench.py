"""Ingest throughput through the real pipeline (group commit), no network.

    python bench/ingest_bench.py [--n 20000] [--concurrency 200] [--db URL] [--dedup]

Prints reports/s, p50/p99 submit latency. Distinct reports from 2,000 reporters.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from aggregator.config import parse
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.db import create_engine, session_factory
from storage.migrate import upgrade

PLACES = ["RSUD Cibinong", "Puskesmas Tebet", "Kantor Camat Ciputat", "RS Fatmawati",
          "Dukcapil Bekasi", "Samsat Depok", "Puskesmas Menteng", "RSUP Persahabatan"]
ISSUES = ["antrian sangat lama", "petugas tidak ramah", "obat kosong", "AC mati",
          "pendaftaran online error", "toilet kotor", "parkir liar", "pungutan liar"]


def make(i: int, rng: random.Random) -> Report:
    text = (f"{rng.choice(ISSUES)} di {rng.choice(PLACES)} hari ini, nomor {i}, "
            f"mohon segera ditindaklanjuti karena sudah {rng.randint(1, 9)} kali terjadi")
    return Report(source="bench", channel="web-form", external_id=f"b{i}", text=text,
                  author=Author(handle=f"user{rng.randint(0, 1999)}"), ack=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--db")
    ap.add_argument("--dedup", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
    settings = parse({"database": {"url": url}, "dedup": {"enabled": args.dedup}},
                     base_dir=Path(tmp), env={})
    engine = create_engine(url)
    await upgrade(engine)
    matcher = None
    if args.dedup:
        from aggregator.dedup import build_matcher

        matcher = build_matcher(settings)
    ing = Ingestor(session_factory(engine), Pipeline(settings, matcher=matcher))
    rng = random.Random(1)
    reports = [make(i, rng) for i in range(args.n)]
    latencies: list[float] = []
    queue = iter(reports)

    async def worker() -> None:
        for r in queue:
            t0 = time.perf_counter()
            await ing.submit([r])
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - t0
    await ing.close()
    await engine.dispose()
    latencies.sort()
    print(f"db={url.split(':')[0]} dedup={args.dedup} reports={args.n} "
          f"concurrency={args.concurrency}")
    print(f"throughput: {args.n / elapsed:,.0f} reports/s ({elapsed:.2f} s)")
    print(f"submit latency p50={statistics.median(latencies) * 1000:.1f} ms "
          f"p99={latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
