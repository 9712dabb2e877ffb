"""X connector: intake and engagement refresh against the local fake X API.

    python bench/twitter_bench.py [--mentions 5000] [--users 800] [--max-pages 10] [--db URL]

Prints mentions ingested per second (real tweepy over HTTP, real pipeline), the X
requests and the pay-per-use cost they would have had, one engagement refresh round
over every tracked tweet, and pure parsing speed per 100-tweet page.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from aggregator.config import parse  # noqa: E402
from aggregator.intake.ingest import Ingestor  # noqa: E402
from aggregator.intake.pipeline import Pipeline  # noqa: E402
from aggregator.intake.port import ConnectorContext  # noqa: E402
from connectors.twitter import TwitterConnector, TwitterSettings  # noqa: E402
from connectors.twitter.parse import reports_from  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.connectors.twitter.fake_x import FakeX  # noqa: E402

POST_READ_USD = 0.005  # X pay-per-use, per post read (LIBRARY-NOTES)
UNLIMITED = {"per_15min": None, "per_day": None}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mentions", type=int, default=5000)
    ap.add_argument("--users", type=int, default=800)
    ap.add_argument("--max-pages", type=int, default=10)
    ap.add_argument("--db")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.db or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    settings = parse({"database": {"url": url}, "dedup": {"enabled": False}},
                     base_dir=tmp, env={})
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    ingestor = Ingestor(sessions, Pipeline(settings))
    fake = FakeX()
    await fake.start()
    users = [fake.user(str(9_000_000 + u), f"warga{u}") for u in range(args.users)]
    roots: list[str] = []
    for i in range(args.mentions):
        author = users[i % len(users)]
        if roots and i % 4 == 3:  # a quarter are replies in an earlier conversation
            fake.tweet(f"@pemkot_test setuju, sama di tempat saya #{i}", author,
                       reply_to=roots[i % len(roots)])
        else:
            roots.append(fake.tweet(f"@pemkot_test keluhan nomor {i}: jalan rusak", author))
    conf = TwitterSettings.model_validate({
        "type": "twitter", "bearer_token": fake.bearer, "account_id": fake.account["id"],
        "api_base_url": fake.url, "poll_interval": 0.01, "max_pages": args.max_pages,
        "engagement": {"enabled": False, "max_tweets": args.mentions,
                       "max_reads_per_day": None},
        "budgets": {"mentions": UNLIMITED, "lookup": UNLIMITED},
    })
    ctx = ConnectorContext(name="x", settings=settings, ingestor=ingestor, sessions=sessions,
                           log=logging.LoggerAdapter(logging.getLogger("bench"), {}))
    conn = TwitterConnector(conf, ctx)

    t0 = time.perf_counter()
    task = asyncio.create_task(conn.run())
    while conn.counts["reports"] < args.mentions:  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.01)
    intake = time.perf_counter() - t0
    await conn.stop()
    await task
    pages = len(fake.calls("mentions"))
    print(f"db={url.split(':')[0]} mentions={args.mentions} users={args.users} "
          f"max_pages={args.max_pages}")
    print(f"intake: {args.mentions / intake:,.0f} mentions/s ({intake:.2f} s), "
          f"{pages} mentions requests, tickets={conn.counts['new_tickets']}, "
          f"cost ≈ ${args.mentions * POST_READ_USD:,.2f} in post reads")

    for tid in list(fake.tweets):
        fake.set_metrics(tid, like_count=7, retweet_count=2)
    t0 = time.perf_counter()
    await conn.refresh_engagement()
    refresh = time.perf_counter() - t0
    await conn.stop()
    looked = sum(len(c.query["ids"].split(",")) for c in fake.calls("lookup"))
    print(f"engagement round: {looked} tweets in {refresh:.2f} s, "
          f"{len(fake.calls('lookup'))} lookup requests, "
          f"{conn.counts['samples'] - args.mentions} samples written")

    # The same JSON the server sends for a full page.
    body = {"data": [fake._shape(t, {"author_id", "created_at", "conversation_id",
                                     "referenced_tweets", "public_metrics", "lang"})
                     for t in list(fake.tweets.values())[:100]],
            "includes": {"users": list(fake.users.values())[:100]}}
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        reports_from([body], source="x", timeline="mentions")
    per_page = (time.perf_counter() - t0) / n
    print(f"parse: {per_page * 1000:.2f} ms per 100-tweet page")
    await ingestor.close()
    await fake.stop()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
