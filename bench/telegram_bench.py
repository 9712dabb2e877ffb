"""Telegram intake through the whole service: fake Bot API -> python-telegram-bot ->
conversation -> group-commit ingest -> outbox -> sendMessage acknowledgement.

    python bench/telegram_bench.py [--users 200] [--messages 5] [--db URL] [--window 30]
                                   [--dedup on|off]

Two figures:
  * burst: users x messages complaints queued at once (as after an outage); reports/s
    until every update is confirmed to Telegram, and until every ack is sent; ack
    latency p50/p99 from the moment the update was queued.
  * one at a time: a single user sends 30 complaints, each after the previous ack;
    p50/p99 of message -> ack (what one citizen feels on an idle bot).
Checks: every report stored once, one ack per report ("lost" must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from aggregator.config import parse  # noqa: E402
from aggregator.runtime.service import Service  # noqa: E402
from storage.models import Report  # noqa: E402
from tests.connectors.telegram.fake_bot_api import FakeBotAPI  # noqa: E402

WORDS = ("jalan rusak berlubang lampu mati sampah menumpuk antrian lama petugas puskesmas "
         "kelurahan pungutan liar banjir drainase tersumbat izin usaha bantuan sosial air "
         "bersih listrik padam sekolah guru parkir macet terminal pasar").split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(12)) + f" {rng.randrange(10**6)}"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    fake = FakeBotAPI()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite+aiosqlite:///{tmp}/bench.db"
        settings = parse({
            "database": {"url": db}, "web": {"port": 0},
            "dedup": {"enabled": args.dedup == "on"},
            "logging": {"format": "text", "level": "WARNING"},
            "connectors": {"tg": {"type": "telegram", "token": fake.token,
                                  "api_base_url": fake.url, "poll_timeout": 5,
                                  "followup_window_minutes": args.window,
                                  "rate_limit": {"messages": 0}}},
        }, base_dir=Path(tmp), env={})
        svc = Service(settings)
        await svc.start()
        rng = random.Random(1)
        try:
            await fake.wait_for(lambda: any(m == "getUpdates" for m, _ in fake.calls))
            # ---- burst
            queued: dict[tuple[int, int], float] = {}
            start = time.monotonic()
            for _ in range(args.messages):
                for u in range(args.users):
                    msg = fake.message(10_000 + u, sentence(rng))
                    queued[(10_000 + u, msg["message_id"])] = time.monotonic()
            total = len(queued)
            await fake.wait_confirmed(within=600)
            confirmed = time.monotonic() - start

            def acked() -> list[dict]:
                return [s for s in fake.sent if s.get("reply_parameters")]
            await fake.wait_for(lambda: len(acked()) >= total, 600, "all acks")
            done = time.monotonic() - start
            lat = [s["at"] - queued[(s["chat_id"], s["reply_parameters"]["message_id"])]
                   for s in acked()]
            async with svc.sessions() as s:
                stored = (await s.execute(select(func.count()).select_from(Report))).scalar_one()
            print(f"burst: {args.users} users x {args.messages} msgs = {total} complaints "
                  f"on {db.split(':')[0]}, dedup {args.dedup}")
            print(f"  stored+confirmed: {confirmed:.2f}s  ({total / confirmed:.0f} reports/s)")
            print(f"  all acks sent:    {done:.2f}s  ({total / done:.0f} acks/s)")
            print(f"  ack latency p50 {pct(lat, .5):.0f} ms  p99 {pct(lat, .99):.0f} ms")
            print(f"  lost: {total - stored} reports, {total - len(lat)} acks")

            # ---- one at a time
            single: list[float] = []
            for _ in range(30):
                before = len(fake.texts_to(42))
                t0 = time.monotonic()
                fake.message(42, f"/baru {sentence(rng)}")
                await fake.wait_for(lambda b=before: len(fake.texts_to(42)) > b, 30)
                single.append(time.monotonic() - t0)
            print(f"one at a time: message -> ack p50 {statistics.median(single) * 1000:.0f} ms"
                  f"  p99 {pct(single, .99):.0f} ms")
        finally:
            await svc.stop()
            await fake.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--messages", type=int, default=5)
    p.add_argument("--db", default=None)
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--dedup", choices=["on", "off"], default="on",
                   help="near-duplicate matching in the pipeline (its cost is not ours)")
    asyncio.run(main(p.parse_args()))
