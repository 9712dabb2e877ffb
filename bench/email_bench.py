"""Email intake benchmark: 500 distinct complaints (100 senders, some non-ASCII)
waiting in a real Dovecot; the whole service (Service in-process: email connector,
ingest pipeline with dedup, outbox, SMTP) runs until every mail is ticketed and
acknowledged at a local SMTP sink. Prints time, messages/s and peak RSS.

    python bench/email_bench.py [--mails 500] [--senders 100] [--batch 100] [--poison]

Reference: a Python helpdesk doing one FETCH and one STORE per message, in turn,
ingests about 31 messages/s with acknowledgements on this setup. Target >= 150/s.
Set AGGREGATOR_BENCH_DATABASE_URL=postgresql+asyncpg://... to run on PostgreSQL
(a fresh schema is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from sqlalchemy import func, select, text  # noqa: E402

from aggregator.config import parse  # noqa: E402
from aggregator.runtime.service import Service  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.models import Report  # noqa: E402
from tests.connectors.email.dovecot import PASSWORD, Dovecot, available  # noqa: E402
from tests.connectors.email.mails import AGENCY, SHARED_EMAIL, complaint, distinct_text  # noqa: E402
from tests.connectors.email.sink import SinkProcess  # noqa: E402

NAMES = ["Siti Aminah", "Budi Santoso", "Ñoño Wijaya", "Dewi Lestari", "Ketut Ariasa",
         "Ахмад Рахман", "Nguyễn Thị Hoa", "Made Surya", "陈美玲", "Rina Kartika"]


def mailbox(n: int, senders: int) -> list[bytes]:
    out = []
    for i in range(n):
        s = i % senders
        subject = f"Keluhan warga {s}: " + ("jalan rusak parah" if i % 3 else "air ꦧꦺꦤ꧀ banjir")
        out.append(complaint(i, sender=f"warga{s}@mail.example.id", name=NAMES[s % 10],
                             subject=subject, text=distinct_text(i)))
    return out


async def run(args: argparse.Namespace) -> None:
    reason = available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    dovecot = Dovecot(users=2).start()
    tmp = Path(tempfile.mkdtemp(prefix="emailbench"))
    sink = SinkProcess(tmp / "sink").start()
    pg = os.environ.get("AGGREGATOR_BENCH_DATABASE_URL", "")
    schema = f"b_{uuid.uuid4().hex[:10]}"
    try:
        user = dovecot.new_user()
        mails = mailbox(args.mails, args.senders)
        if args.poison:
            poison = SHARED_EMAIL / "flanker" / "enclosed-endless.eml"
            mails.insert(len(mails) // 2, poison.read_bytes())
        t0 = time.perf_counter()
        dovecot.append(user, mails)
        print(f"loaded {len(mails)} mails into Dovecot in {time.perf_counter() - t0:.1f} s")
        db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        if pg:
            admin = create_engine(pg)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await admin.dispose()
            db_url = f"{pg}{'&' if '?' in pg else '?'}search_path={schema}"
        settings = parse({
            "database": {"url": db_url},
            "web": {"enabled": False},
            "logging": {"level": "WARNING"},
            "dedup": {"enabled": not args.no_dedup},
            "connectors": {"mail": {
                "type": "email",
                "imap": {"host": dovecot.host, "port": dovecot.port, "security": "plain",
                         "username": user, "password": PASSWORD, "batch_size": args.batch},
                "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "plain",
                         "from_address": AGENCY},
                "max_acks_per_hour": 100,
            }},
        }, base_dir=tmp, env={})
        svc = Service(settings)
        await svc.migrate_if_needed()
        expected_acks = args.mails + (1 if args.poison else 0)
        start = time.perf_counter()
        await svc.start()
        ticketed_at = None
        while True:
            async with svc.sessions() as s:
                n = (await s.execute(select(func.count()).select_from(Report))).scalar_one()
            if ticketed_at is None and n >= expected_acks:
                ticketed_at = time.perf_counter()
            if sink.count() >= expected_acks:
                break
            if time.perf_counter() - start > 300:
                print(f"timeout: {n} reports, {sink.count()} acks")
                break
            await asyncio.sleep(0.02)
        done = time.perf_counter()
        health = svc.connectors["mail"].health()
        await svc.stop()
        total = done - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database: {'PostgreSQL' if pg else 'SQLite'}; batch_size {args.batch}; "
              f"dedup {'off' if args.no_dedup else 'on'}")
        print(f"all {args.mails} ticketed after {(ticketed_at or done) - start:.2f} s")
        print(f"all acknowledged at the SMTP sink after {total:.2f} s")
        print(f"throughput: {expected_acks / total:.0f} messages/s with acknowledgements "
              f"(reference helpdesk ~31/s, target >= 150/s)")
        print(f"peak RSS: {rss:.0f} MiB (this process: the service, plus generating the mail)")
        print(f"connector health: reports={health['reports']} "
              f"quarantined={health['quarantined']} sent={health['sent']}")
    finally:
        sink.stop()
        dovecot.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if pg:
            admin = create_engine(pg)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mails", type=int, default=500)
    p.add_argument("--senders", type=int, default=100)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--no-dedup", action="store_true",
                   help="turn the near-duplicate matcher off (isolates the connector)")
    p.add_argument("--poison", action="store_true",
                   help="add the 3 MB endlessly nested mail from the shared corpus")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
