"""Bulk-generated data for the web UI benchmark: tickets, reports, reporters, events
and outbox rows shaped like a year of a city's complaints, inserted with multi-row
INSERTs (no pipeline: 300,000 reports through ingest would take an hour).

    python bench/webui_data.py --db URL [--tickets 100000 --reports 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import Outbox, Report, Reporter, Ticket, TicketCounter, TicketEvent, Unit

UNITS = ["Bina Marga", "Dinas Kesehatan", "Dukcapil", "Dinas Lingkungan Hidup",
         "Satpol PP", "Dinas Perhubungan", "PDAM", "Dinas Pendidikan", "BPBD", "Inspektorat"]
CHANNELS = [("lapor", "web-form"), ("lapor", "sms-1708"), ("surel", "email"),
            ("telegram", "telegram"), ("x", "twitter")]
ISSUES = ["jalan rusak berlubang", "lampu jalan mati", "sampah menumpuk", "banjir setinggi lutut",
          "antrean sangat lama", "petugas tidak ramah", "obat kosong", "air PDAM keruh",
          "pungutan liar", "parkir liar", "pohon tumbang", "saluran air tersumbat",
          "pelayanan KTP lambat", "guru sering tidak hadir", "pedagang kaki lima",
          "kebisingan malam hari", "bau limbah pabrik", "angkot ngetem sembarangan"]
PLACES = ["Puskesmas", "RSUD", "Kelurahan", "Kecamatan", "SDN", "Pasar", "Terminal", "Jalan"]
NAMES = ["Melati", "Mawar", "Kenanga", "Cempaka", "Anggrek", "Flamboyan", "Merdeka",
         "Sudirman", "Diponegoro", "Gatot Subroto", "Pahlawan", "Veteran", "Kartini"]
FILLER = ["mohon segera ditindaklanjuti", "sudah dilaporkan berkali-kali",
          "warga sangat terganggu", "kejadian sejak minggu lalu", "tolong diperbaiki pak",
          "sudah tiga hari belum ada tanggapan", "anak-anak sekolah jadi kesulitan",
          "terima kasih atas perhatiannya", "kondisinya makin parah saat hujan"]
STATES = ["new"] * 10 + ["in_progress"] * 10 + ["waiting"] * 5 + ["resolved"] * 35 + \
    ["closed"] * 40
PRIORITIES = [0] * 20 + [1] * 60 + [2] * 15 + [3] * 5
SLA_HOURS = {0: 168, 1: 72, 2: 24, 3: 4}
RARE_PLACES = 2000  # "Gang Kelor 17": each in about 150 reports
CHUNK = 5000


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def complaint(rng: random.Random) -> str:
    place = f"{rng.choice(PLACES)} {rng.choice(NAMES)}"
    rare = f"Gang Kelor {rng.randrange(RARE_PLACES)}"
    return (f"{rng.choice(ISSUES).capitalize()} di {place} dekat {rare}, "
            f"{rng.choice(FILLER)}. {rng.choice(FILLER).capitalize()}, "
            f"RT {rng.randint(1, 20):02d}/RW {rng.randint(1, 12):02d}.")


async def generate(engine: AsyncEngine, n_tickets: int, n_reports: int, seed: int = 7
                   ) -> dict[str, float]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    tickets, reporters, reports, events, outbox = [], [], [], [], []
    for i in range(1, n_tickets + 1):
        created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        prio = rng.choice(PRIORITIES)
        state = rng.choice(STATES)
        tickets.append({
            "id": i, "number": f"ADU-2026-{i:06d}", "title": "", "state": state,
            "priority": prio, "kind": "complaint",
            "unit": rng.choice(UNITS) if rng.random() < 0.9 else None,
            "assignee": f"petugas{rng.randrange(20)}" if rng.random() < 0.7 else None,
            "confidential": rng.random() < 0.02,
            "escalation_level": 2 if rng.random() < 0.01 else 1 if rng.random() < 0.02 else 0,
            "virality_score": 0.0, "report_count": 0,
            "sla_due_at": created + timedelta(hours=SLA_HOURS[prio]),
            "created_at": created, "updated_at": created + timedelta(minutes=rng.randrange(9000)),
        })
    for i in range(1, n_reports + 1):
        tid = i if i <= n_tickets else 1 + int(n_tickets * rng.random() ** 2)
        t = tickets[tid - 1]
        source, channel = rng.choice(CHANNELS)
        reporters.append({"id": i, "source": source, "handle": f"h{i}", "name": f"Warga {i}",
                          "email": f"warga{i}@contoh.id" if channel == "email" else None,
                          "phone": None, "banned": False, "created_at": t["created_at"]})
        body = complaint(rng)
        if t["report_count"] == 0:
            t["title"] = body[:120]
        t["report_count"] += 1
        at = t["created_at"] + timedelta(minutes=rng.randrange(600)) if t["report_count"] > 1 \
            else t["created_at"]
        reports.append({
            "id": i, "source": source, "channel": channel, "external_id": f"x{i}",
            "ticket_id": tid, "reporter_id": i, "title": None, "text": body, "body": None,
            "text_hash": f"{i:040x}", "kind": "complaint", "anonymous": rng.random() < 0.03,
            "confidential": t["confidential"], "sent_at": at, "received_at": at,
            "match_reason": "new" if t["report_count"] == 1 else "near_duplicate", "meta": {},
        })
        events.append({"ticket_id": tid, "at": at, "actor": f"connector:{source}",
                       "type": "created" if t["report_count"] == 1 else "report_added",
                       "data": {"report_id": i, "channel": channel, "reason": "new"}})
        outbox.append({"ticket_id": tid, "reporter_id": i, "source": source,
                       "recipient": f"r:{i}", "kind": "ack", "payload": {}, "state": "sent",
                       "attempts": 1, "next_attempt_at": at, "created_at": at, "sent_at": at})
    for t in tickets:
        if t["state"] != "new":
            events.append({"ticket_id": t["id"], "at": t["updated_at"],
                           "actor": "user:petugas1", "type": "state_changed",
                           "data": {"from": "new", "to": t["state"], "why": None}})
    built = time.perf_counter() - t0
    async with engine.begin() as conn:
        for model, rows in ((Ticket, tickets), (Reporter, reporters), (Report, reports),
                            (TicketEvent, events), (Outbox, outbox)):
            for part in chunks(rows):
                await conn.execute(insert(model), part)
        await conn.execute(insert(TicketCounter), [
            {"prefix": "ADU", "year": 2026, "value": n_tickets}])
        await conn.execute(insert(Unit), [{"name": u, "created_at": now} for u in UNITS])
        if conn.dialect.name == "postgresql":
            for table in ("tickets", "reporters", "reports", "ticket_events", "outbox"):
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"))
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return {"build_s": built, "insert_s": time.perf_counter() - t0 - built}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--reports", type=int, default=300_000)
    args = ap.parse_args()
    engine = create_engine(args.db)
    await upgrade(engine)
    print(await generate(engine, args.tickets, args.reports))
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
