"""Fill a database with a realistic year of complaints, for demos and for measuring.

    python bench/fill_year.py [--db URL] [--tickets 100000] [--end 2026-11-30] [--seed 1]

100,000 tickets over the 365 days up to --end (weekday rhythm, a few bursts), with
their reports (most alone, some clusters of dozens), reporters, the audit log
(created, report_added, assignee/unit changes, replies, state changes, reopenings,
escalations, virality, SLA breaches), the outbox rows a real run leaves behind (sent,
a few pending and dead), survey answers (the nine-element form and Telegram's one
rating) and named places for the duplicate index. Due times follow the config's SLA
targets and calendar. Rows go in with multi-row inserts, in one transaction per table
chunk. The database is migrated first and must hold no tickets.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aggregator.config import Settings, parse
from aggregator.domain import IKM_ELEMENTS, Priority
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import (
    DedupDoc,
    Outbox,
    Report,
    Reporter,
    SurveyAnswer,
    Ticket,
    TicketCounter,
    TicketEvent,
)

CHANNELS = {"web-form": 0.35, "telegram": 0.3, "email": 0.2, "sms-1708": 0.1, "twitter": 0.05}
SOURCES = {"web-form": "lapor", "telegram": "telegram", "email": "surel",
           "sms-1708": "lapor", "twitter": "x"}
KINDS = {"complaint": 0.8, "aspiration": 0.1, "information_request": 0.08,
         "whistleblowing": 0.02}
# Unit -> (share of tickets, how satisfied its public is on average, 1-4).
UNITS = {"Dinas PU": (0.2, 3.0), "Dinas Kesehatan": (0.15, 3.4), "Dinas Perhubungan": (0.12, 3.1),
         "Dinsos": (0.1, 3.3), "Disdukcapil": (0.12, 3.5), "DLH": (0.1, 2.9),
         "Satpol PP": (0.08, 2.8), "RSUD": (0.08, 3.2), None: (0.05, 3.2)}
PRIORITIES = {Priority.LOW: 0.2, Priority.NORMAL: 0.6, Priority.HIGH: 0.15, Priority.URGENT: 0.05}
PLACES = [f"{kind}:{name}" for kind, name in [
    ("rsud", "cibinong"), ("puskesmas", "tebet"), ("pasar", "kliwon"), ("jalan", "sudirman"),
    ("jalan", "merdeka"), ("kantor", "camat ciputat"), ("rs", "fatmawati"), ("sdn", "3 depok"),
    ("terminal", "kampung rambutan"), ("stasiun", "bogor"), ("puskesmas", "menteng"),
    ("samsat", "depok"), ("dukcapil", "bekasi"), ("taman", "suropati"), ("jembatan", "ciliwung")]]
ISSUES = ["jalan berlubang", "lampu jalan mati", "sampah menumpuk", "antrian sangat lama",
          "petugas tidak ramah", "obat kosong", "banjir", "parkir liar", "pungutan liar",
          "air PDAM keruh", "pendaftaran online error", "pohon tumbang"]
WEEKDAY = (1.25, 1.15, 1.1, 1.05, 1.0, 0.6, 0.5)
CHUNK = 5000


def pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def lognormal_hours(rng: random.Random, median: float, sigma: float) -> timedelta:
    return timedelta(hours=median * math.exp(rng.gauss(0, sigma)))


class Year:
    """Builds every row in memory (plain dicts), then `write` inserts them."""

    def __init__(self, settings: Settings, tickets: int, end: date, seed: int):
        self.settings = settings
        self.targets = settings.tickets.sla.targets
        self.rng = random.Random(seed)
        self.n = tickets
        tz = self.targets.calendar.tz
        # The afternoon of the last day, never later than the real now: a refresh of the
        # figure cells takes anything after its last look as news.
        self.now = min(datetime.now(UTC), datetime.combine(
            end, datetime.min.time(), tz).astimezone(UTC) + timedelta(hours=17))
        self.start = self.now - timedelta(days=365)
        self.rows: dict[Any, list[dict[str, Any]]] = {
            m: [] for m in (Reporter, Ticket, Report, TicketEvent, Outbox, SurveyAnswer,
                            DedupDoc)}
        self.counters: dict[int, int] = {}
        self.reporters = 0
        self.report_id = 0

    def arrivals(self) -> list[datetime]:
        """Ticket creation times: weekday rhythm, office-hour peaks, a few bursts."""
        days = [self.start.date() + timedelta(days=i) for i in range(365)]
        weight = [WEEKDAY[d.weekday()] * (3.0 if self.rng.random() < 0.02 else 1.0)
                  for d in days]
        out: list[datetime] = []
        for d in self.rng.choices(days, weights=weight, k=self.n):
            hour = min(23.99, max(0.0, self.rng.gauss(5.5, 4.0)))  # ~08-18 WIB
            at = datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=hour)
            out.append(min(max(at, self.start), self.now - timedelta(minutes=1)))
        return sorted(out)

    def reporter(self, channel: str) -> int:
        # A fifth of reports come from someone who wrote before.
        if self.reporters and self.rng.random() < 0.2:
            return self.rng.randint(1, self.reporters)
        self.reporters += 1
        self.rows[Reporter].append({
            "id": self.reporters, "source": SOURCES[channel], "handle": f"p{self.reporters}",
            "name": f"Warga {self.reporters}", "banned": False, "created_at": self.start})
        return self.reporters

    def event(self, tid: int, at: datetime, kind: str, actor: str, **data: Any) -> None:
        self.rows[TicketEvent].append({"ticket_id": tid, "at": at, "actor": actor,
                                       "type": kind, "data": data})

    def outbox(self, tid: int, rid: int, source: str, kind: str, at: datetime,
               payload: dict[str, Any]) -> None:
        roll = self.rng.random()
        state = "dead" if roll < 0.001 else "pending" if at > self.now - timedelta(
            minutes=2) else "sent"
        self.rows[Outbox].append({
            "ticket_id": tid, "reporter_id": rid, "source": source, "recipient": f"r:{rid}",
            "kind": kind, "payload": payload, "state": state, "attempts": 25 if state == "dead"
            else 1, "next_attempt_at": at, "created_at": at,
            "sent_at": at + timedelta(seconds=2) if state == "sent" else None,
            "last_error": "SMTP 550" if state == "dead" else None})

    def ticket(self, tid: int, created: datetime) -> None:
        rng = self.rng
        channel, kind = pick(rng, CHANNELS), pick(rng, KINDS)
        unit = pick(rng, {u: w for u, (w, _) in UNITS.items()})
        prio = pick(rng, PRIORITIES)
        year = created.year
        self.counters[year] = self.counters.get(year, 0) + 1
        due = self.targets.resolution_due(prio, created)
        fr_due = self.targets.first_response_due(prio, created)
        speed = {Priority.URGENT: 0.2, Priority.HIGH: 0.5}.get(prio, 1.0)
        first = created + lognormal_hours(rng, 4 * speed, 1.1)
        resolved = first + lognormal_hours(rng, 40 * speed, 1.0)
        if rng.random() < 0.03:
            first = resolved = created + timedelta(days=1000)  # never answered
        answered = first <= self.now
        done = resolved <= self.now
        state = ("closed" if rng.random() < 0.3 else "resolved") if done else (
            ("waiting" if rng.random() < 0.15 else "in_progress") if answered else "new")
        if rng.random() < 0.01 and not answered and created < self.now - timedelta(days=3):
            state = "closed"  # spam, closed unanswered
        size = 1 if rng.random() < 0.8 else (rng.randint(2, 3) if rng.random() < 0.75 else
                                             rng.randint(4, 10) if rng.random() < 0.8 else
                                             rng.randint(11, 60))
        staff = f"user:petugas{rng.randint(1, 40)}"
        last = resolved if done else self.now
        reporter_ids = []
        for k in range(size):
            at = created if k == 0 else created + (last - created) * rng.random()
            ch = channel if k == 0 or rng.random() < 0.6 else pick(rng, CHANNELS)
            rid = self.reporter(ch)
            reporter_ids.append((rid, SOURCES[ch]))
            self.report_id += 1
            self.rows[Report].append({
                "id": self.report_id, "source": SOURCES[ch], "channel": ch,
                "external_id": f"y{self.report_id}", "ticket_id": tid, "reporter_id": rid,
                "title": None, "text": f"{rng.choice(ISSUES)} di {rng.choice(PLACES)}",
                "text_hash": f"{self.report_id:040x}", "kind": kind,
                "anonymous": False, "confidential": kind == "whistleblowing",
                "sent_at": at, "received_at": at, "match_reason": "new" if k == 0 else
                "near_duplicate", "meta": {}})
            if rng.random() < 0.4:
                self.rows[DedupDoc].append({"report_id": self.report_id, "at": at,
                                            "places": rng.choice(PLACES)})
            self.event(tid, at, "created" if k == 0 else "report_added",
                       f"connector:{SOURCES[ch]}", report_id=self.report_id, channel=ch,
                       reason="new" if k == 0 else "near_duplicate")
            self.outbox(tid, rid, SOURCES[ch], "ack", at, {"report_external_id":
                                                          f"y{self.report_id}"})
        if unit:
            self.event(tid, created + timedelta(minutes=20), "unit_changed", staff,
                       **{"from": None, "to": unit})
        if answered:
            self.event(tid, first, "reply", staff, text="Terima kasih, sedang kami tangani.")
            self.event(tid, first, "state_changed", staff,
                       **{"from": "new", "to": "in_progress", "why": "staff replied"})
            for rid, src in reporter_ids[:3]:
                self.outbox(tid, rid, src, "reply", first, {"text": "Terima kasih"})
        if fr_due < min(first, self.now):
            self.event(tid, fr_due, "sla_breached", "system", target="first_response",
                       due=fr_due.isoformat())
        if due < min(resolved, self.now):
            self.event(tid, due, "sla_breached", "system", target="resolution",
                       due=due.isoformat())
        if rng.random() < 0.01:
            self.event(tid, created + timedelta(hours=1), "escalated", "system",
                       **{"from": 0, "to": 1, "name": "petugas piket", "reasons": ["laporan"]})
        if size > 10 or rng.random() < 0.003:
            peak = created + timedelta(hours=2)
            self.event(tid, peak, "virality_changed", "system", **{"from": 0, "to": 1})
            self.event(tid, peak + timedelta(hours=6), "virality_changed", "system",
                       **{"from": 1, "to": 0})
        if done:
            if rng.random() < 0.02:  # reopened once, resolved again
                back = resolved - (resolved - first) / 2
                self.event(tid, back, "state_changed", staff,
                           **{"from": "resolved", "to": "in_progress", "why": None})
            self.event(tid, resolved, "state_changed", staff,
                       **{"from": "in_progress", "to": "resolved", "why": None})
            for rid, src in reporter_ids[:3]:
                self.outbox(tid, rid, src, "status", resolved, {"from": "in_progress",
                                                                "to": "resolved"})
            self.survey(tid, unit, channel, resolved, reporter_ids[0][0])
        self.rows[Ticket].append({
            "id": tid, "number": f"ADU-{year}-{self.counters[year]:06d}",
            "title": f"{rng.choice(ISSUES)} ({channel})", "state": state, "priority": int(prio),
            "kind": kind, "unit": unit, "assignee": staff.removeprefix("user:") if answered
            else None, "confidential": kind == "whistleblowing", "escalation_level": 0,
            "virality_score": 0.0, "report_count": size, "sla_due_at": due,
            "first_response_due_at": fr_due, "first_response_at": first if answered else None,
            "resolved_at": resolved if done else None, "created_at": created,
            "updated_at": resolved if done else first if answered else created})

    def survey(self, tid: int, unit: str | None, channel: str, resolved: datetime,
               rid: int) -> None:
        rng = self.rng
        mean = UNITS[unit][1]
        at = resolved + timedelta(hours=rng.uniform(0.5, 72))
        if at > self.now:
            return

        def score() -> int:
            return min(4, max(1, round(rng.gauss(mean, 0.7))))

        rows = []
        if rng.random() < 0.3:  # the nine-element form
            rows += [(element, score()) for element in IKM_ELEMENTS if rng.random() < 0.97]
        if channel == "telegram" and rng.random() < 0.4:
            rows.append(("overall", score()))
        self.rows[SurveyAnswer] += [
            {"ticket_id": tid, "channel": channel, "respondent": f"r:{rid}",
             "element": element, "score": s, "at": at} for element, s in rows]

    def build(self) -> None:
        for tid, created in enumerate(self.arrivals(), 1):
            self.ticket(tid, created)


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


async def write(engine: AsyncEngine, year: Year) -> None:
    for model, rows in year.rows.items():
        t0 = time.perf_counter()
        for part in chunks(rows):
            async with engine.begin() as conn:
                await conn.execute(insert(model), part)
        print(f"  {model.__tablename__:<16} {len(rows):>9,} rows  "
              f"{time.perf_counter() - t0:6.1f} s", flush=True)
    async with engine.begin() as conn:
        await conn.execute(insert(TicketCounter), [
            {"prefix": "ADU", "year": y, "value": v} for y, v in year.counters.items()])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for model in (Reporter, Ticket, Report):
                table = model.__tablename__
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))")
        await conn.exec_driver_sql("ANALYZE")  # fresh statistics for the planner


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL (default: a new SQLite file in a temp dir)")
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--end", type=date.fromisoformat, default=datetime.now(UTC).date())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--working-hours", default=None,
                    help='an SLA calendar with working hours, e.g. "08:00-16:00"')
    args = ap.parse_args()
    url = args.db or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'year.db'}"
    sla: dict[str, Any] = {"calendar": {"timezone": "Asia/Jakarta"}}
    if args.working_hours:
        sla["calendar"]["working_hours"] = args.working_hours
    settings = parse({"database": {"url": url}, "tickets": {"sla": sla}},
                     base_dir=Path.cwd(), env={})
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            if (await conn.execute(select(func.count()).select_from(Ticket))).scalar_one():
                raise SystemExit(f"{url}: already holds tickets; fill an empty database")
        t0 = time.perf_counter()
        year = Year(settings, args.tickets, args.end, args.seed)
        year.build()
        print(f"built {len(year.rows[Ticket]):,} tickets in {time.perf_counter() - t0:.1f} s;"
              f" writing to {url}", flush=True)
        await write(engine, year)
    finally:
        await engine.dispose()
    print(f"done in {time.perf_counter() - t0:.1f} s: {url}")


if __name__ == "__main__":
    asyncio.run(main())
