"""Near-duplicate detection: quality on the labelled set, ingest speed, match latency.

    python bench/dedup_eval.py [--db URL] [--sizes 100000,1000000] [--queries 1000]
                               [--ingest 5000] [--labelled PATH] [--keep DIR]
    python bench/dedup_eval.py --labelled PATH --explain 3   # why pairs are missed

1. Quality: the labelled set (tests/data/dedup_labelled.jsonl) through the real
   Ingestor + Pipeline + matcher; pairwise precision, recall, F1.
2. Ingest with matching: synthetic complaints (templates x problems x places, about a
   third of them re-tellings of an earlier one), then a burst (one incident retold by
   thousands), submitted concurrently into an empty database; reports/s, against the
   bare pipeline (no matcher) on the same reports in the same run. With --db the
   database is emptied between runs (TRUNCATE): give it a scratch database only.
3. Match latency at scale (SQLite): stored reports are generated fast instead of
   ingested: synthetic signatures (Zipf-distributed topic words from the Sastrawi
   dictionary and the lexicon, synthetic place names), their real LSH/place keys
   computed by `index_keys`, bulk-inserted with raw sqlite3 (tickets, reports,
   dedup_docs, dedup_keys pre-sorted by key) spread over the 30-day window. Then what
   the pipeline does for a report arriving alone is timed for new reports (half
   re-tellings of stored ones, half new): `LshMatcher.prefetch` (its candidates) and
   `LshMatcher.find` (their verification).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from aggregator.config import parse
from aggregator.dedup import build_matcher
from aggregator.dedup.evaluate import load, pairwise, to_reports
from aggregator.dedup.features import Doc, Place, extract
from aggregator.dedup.keys import index_keys
from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.store import doc_row
from aggregator.dedup.verdict import compare
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Report as ReportRow
from storage.models import Ticket

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "dedup_labelled.jsonl"
# Written after the matcher was tuned on LABELLED and never tuned on: an honest check.
HOLDOUT = ROOT / "tests" / "data" / "dedup_holdout.jsonl"

PROBLEMS = [
    "antrian pendaftaran sangat lama, mesin nomor antrian rusak",
    "toilet kotor dan air tidak mengalir", "parkir liar minta uang tanpa karcis",
    "obat untuk pasien BPJS kosong", "petugas loket kasar dan membentak warga",
    "jalan berlubang besar, motor sering jatuh", "lampu penerangan jalan mati semua",
    "sampah tidak diangkut seminggu, menumpuk dan bau", "air PDAM mati tiga hari",
    "listrik padam berkali-kali tanpa pemberitahuan", "banjir setinggi lutut tiap hujan",
    "pungutan liar untuk surat pengantar", "blanko e-KTP habis", "situs pendaftaran error",
]
KINDS = ["RSUD", "Puskesmas", "Kelurahan", "Jalan", "Pasar", "Stasiun", "Samsat", "SDN 3"]
SYLLABLES = ["su", "ka", "ja", "di", "ci", "pu", "tat", "ma", "ra", "wa", "ngi", "ba",
             "ron", "te", "gal", "sa", "ri", "ko", "lo", "nu", "sen", "bo", "gor", "dang"]


# --------------------------------------------------------------------- 1. quality


async def quality(url: str, base: Path, labelled: Path, threshold: float | None = None,
                  model: str | None = None) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    settings = parse({"database": {"url": url},
                      "dedup": {"threshold": threshold, "model": model}},
                     base_dir=base, env={})
    ingestor = Ingestor(session_factory(engine),
                        Pipeline(settings, matcher=build_matcher(settings)))
    records = load(labelled)
    reports = to_reports(records, datetime.now(UTC))
    # One at a time, in time order, as a portal posting its reports would: reports
    # submitted together are batched by timing, and the figures then moved by dozens of
    # pairs between runs of one tree.
    for report in reports:
        await ingestor.submit([report])
    await ingestor.close()
    # Where each report is at the end, not where ingest first put it: the matcher may
    # fold a ticket into another later (fragments of one viral incident).
    async with session_factory(engine)() as session:
        found = await session.execute(
            select(ReportRow.external_id, Ticket.number)
            .join(Ticket, Ticket.id == ReportRow.ticket_id))
        ticket_of = {ext: number for ext, number in found}
    await engine.dispose()
    scores = pairwise({r["id"]: r["cluster"] for r in records},
                      {r.external_id: ticket_of[r.external_id] for r in reports})
    print(f"{labelled.name}: {len(records)} reports, {scores.clusters} clusters")
    print(f"  {scores.line()}")


def explain(labelled: Path, show: int) -> None:
    """Why pairs of one cluster are not matched: every such pair verified directly
    (no index, no tickets), tallied by the rule that said no ("different names",
    "text<bar:same place", ...), with `show` examples of each."""
    records = load(labelled)
    reports = to_reports(records, datetime.now(UTC))
    cfg = parse({}, base_dir=Path(tempfile.gettempdir()), env={}).dedup
    docs = [extract(r.text, title=r.title, author=r.author, meta=r.meta, at=r.sent_at)
            for r in reports]
    missed: dict[str, list[tuple[int, int, dict]]] = {}
    found = total = 0
    for j in range(len(records)):
        for i in range(j):
            if records[i]["cluster"] != records[j]["cluster"]:
                continue
            total += 1
            verdict = compare(docs[j], docs[i], cfg)
            if verdict.same:
                found += 1
                continue
            d = verdict.detail
            why = d.get("apart") or ("weak names" if d.get("weak_names")
                                     else f"text<bar:{d.get('link', 'none')}")
            missed.setdefault(why, []).append((i, j, d))
    print(f"{labelled.name}: {found}/{total} pairs of one cluster matched directly")
    for why, pairs in sorted(missed.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(pairs):5d}  {why}")
        for i, j, d in pairs[:show]:
            print(f"         {d}\n           {records[i]['text'][:120]!r}"
                  f"\n           {records[j]['text'][:120]!r}")


# ------------------------------------------------------------- 2. ingest speed


def place_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_report(i: int, rng: random.Random, places: list[str]) -> Report:
    text = (f"{rng.choice(PROBLEMS).capitalize()} di {rng.choice(KINDS)} "
            f"{rng.choice(places)}, sudah {rng.randint(2, 9)} hari. Mohon segera ditangani.")
    return Report(source="bench", channel=rng.choice(["twitter", "email", "telegram"]),
                  external_id=f"s{i}", text=text,
                  author=Author(handle=f"warga{rng.randint(0, 9999)}"))


def burst_report(i: int, rng: random.Random, place: str) -> Report:
    """One incident (a power cut at one hospital) as many people tell it."""
    text = rng.choice([
        "Listrik padam di RSUD {p} sejak {h} jam, genset tidak menyala",
        "RSUD {p} mati lampu dari tadi, udah {h} jam gelap, genset ga nyala",
        "Tolong PLN, RSUD {p} padam total {h} jam, pasien kepanasan",
    ]).format(p=place, h=rng.randint(1, 9))
    return Report(source="bench", channel=rng.choice(["twitter", "email", "telegram"]),
                  external_id=f"s{i}", text=text,
                  author=Author(handle=f"warga{rng.randint(0, 99999)}"))


async def _ingest(url: str, base: Path, reports: list[Report], concurrency: int,
                  warm: Report, *, matching: bool) -> tuple[float, int, str]:
    """Seconds to submit `reports` concurrently into an empty database, and how many
    were folded into an existing ticket."""
    engine = create_engine(url)
    await upgrade(engine)
    settings = parse({"database": {"url": url}}, base_dir=base, env={})
    matcher = build_matcher(settings) if matching else None
    ingestor = Ingestor(session_factory(engine), Pipeline(settings, matcher=matcher))
    await ingestor.submit([warm])  # warm caches
    sem = asyncio.Semaphore(concurrency)
    folded = 0

    async def one(r: Report) -> None:
        nonlocal folded
        async with sem:
            (res,) = await ingestor.submit([r])
            folded += res.match_reason == "near_duplicate"

    start = time.perf_counter()
    await asyncio.gather(*(one(r) for r in reports))
    elapsed = time.perf_counter() - start
    await ingestor.close()
    await engine.dispose()
    return elapsed, folded, engine.dialect.name


async def ingest_speed(url: str, base: Path, n: int, concurrency: int) -> None:
    """Ingest with matching against the same reports without (the bare pipeline),
    each into a fresh database, in this run: the ratio is what matching costs."""
    rng = random.Random(7)
    places = [place_name(rng) for _ in range(max(50, n // 20))]
    reports = [synthetic_report(i, rng, places) for i in range(n)]
    warm = synthetic_report(-1, rng, places)
    # A burst: one incident retold by many people within minutes (the cheap path).
    burst = [burst_report(n + i, rng, places[0]) for i in range(n // 2)]
    for label, batch in (("distinct", reports), ("burst", burst)):
        urls = [url, url] if "sqlite" not in url else [
            url.replace(".db", f"-{label}-{k}.db") for k in ("bare", "match")]
        bare, _, dialect = await _ingest(urls[0], base, batch, concurrency, warm,
                                         matching=False)
        if "sqlite" not in url:
            await _reset(url)
        took, folded, _ = await _ingest(urls[1], base, batch, concurrency, warm,
                                        matching=True)
        if "sqlite" not in url:
            await _reset(url)
        print(f"ingest {label} ({dialect}): {len(batch)} reports, bare {len(batch) / bare:,.0f}"
              f"/s, with matching {len(batch) / took:,.0f}/s = {bare / took:.2f}x bare "
              f"({folded} folded into an existing ticket)")


async def _reset(url: str) -> None:
    """Empty a server database between two runs (tables stay, rows go)."""
    from sqlalchemy import text

    from storage.models import Base

    engine = create_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


# ------------------------------------------------------------ 3. latency at scale


class Corpus:
    """Synthetic signatures with a realistic spread of shared words."""

    def __init__(self, seed: int = 11):
        lex = default_lexicon()
        rng = random.Random(seed)
        words = sorted(w for w in lex.dictionary if w.isalpha() and len(w) > 3)
        self.vocab = sorted({*rng.sample(words, 4000), *(
            w for t in lex.replace.values() for w in t if w.isalpha())})
        rng.shuffle(self.vocab)
        ranks = np.arange(1, len(self.vocab) + 1)
        self.p = (1 / ranks**1.1) / (1 / ranks**1.1).sum()
        self.places = [place_name(rng).lower() for _ in range(30000)]
        self.kinds = ["rs", "puskesmas", "kelurahan", "jalan", "pasar", "stasiun", "samsat"]
        self.np_rng = np.random.default_rng(seed)
        self.rng = rng

    def doc(self) -> Doc:
        n = int(self.rng.randint(4, 14))
        idx = self.np_rng.choice(len(self.vocab), size=n, replace=False, p=self.p)
        places = tuple(
            Place(self.rng.choice(self.kinds), (self.rng.choice(self.places),))
            for _ in range(self.rng.choice([0, 1, 1, 2]))
        )
        return Doc(topic=frozenset(self.vocab[i] for i in idx), names=frozenset(
            n for p in places for n in p.name), places=places, ids=frozenset())

    def retell(self, doc: Doc) -> Doc:
        """The same problem in other words: two words dropped, two others added."""
        topic = set(doc.topic)
        for w in self.rng.sample(sorted(topic), min(2, max(0, len(topic) - 3))):
            topic.discard(w)
        topic |= set(sorted(self.doc().topic)[:2])
        return Doc(topic=frozenset(topic), names=doc.names, places=doc.places, ids=doc.ids)


def fill(path: Path, corpus: Corpus, start: int, count: int, now: datetime) -> list[Doc]:
    """Insert reports start..start+count-1 (3 per ticket); returns a sample of docs."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    sample: list[Doc] = []
    chunk = 50_000
    for lo in range(start, start + count, chunk):
        hi = min(start + count, lo + chunk)
        tickets, reports, docs, keys = [], [], [], []
        for rid in range(lo + 1, hi + 1):
            at = now - timedelta(minutes=(start + count - rid) * 43_200 / max(count, 1) % 43_200)
            ts = at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            tid = (rid + 2) // 3
            if rid % 3 == 1:
                tickets.append((tid, f"SYN-{tid:09d}", "synthetic", "new", 1, "complaint", 0, 0,
                                0.0, 3, ts, ts))
            doc = corpus.doc()
            if len(sample) < 2000 and corpus.rng.random() < 0.01:
                sample.append(doc)
            reports.append((rid, "syn", "web-form", f"r{rid}", tid, "-", "0" * 40, "complaint",
                            0, 0, ts, "{}"))
            row = doc_row(doc, rid)
            docs.append((rid, row["topic"], row["names"], row["weak"], row["places"], row["ids"],
                         ts))
            keys += [(k, ts, rid) for k in index_keys(doc)]
        keys.sort()
        with con:
            con.executemany(
                "INSERT INTO tickets (id, number, title, state, priority, kind, confidential, "
                "escalation_level, virality_score, report_count, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", tickets)
            con.executemany(
                "INSERT INTO reports (id, source, channel, external_id, ticket_id, text, "
                "text_hash, kind, anonymous, confidential, received_at, meta) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", reports)
            con.executemany(
                "INSERT INTO dedup_docs (report_id, topic, names, weak, places, ids, at) "
                "VALUES (?,?,?,?,?,?,?)", docs)
            con.executemany("INSERT INTO dedup_keys (key, at, report_id) VALUES (?,?,?)", keys)
    con.execute("ANALYZE")
    con.close()
    return sample


async def latency(url: str, base: Path, corpus: Corpus, sample: list[Doc], queries: int,
                  stored: int) -> None:
    engine = create_engine(url)
    settings = parse({"database": {"url": url}}, base_dir=base, env={})
    matcher = build_matcher(settings)
    assert matcher is not None
    sessions = session_factory(engine)
    rng = random.Random(3)
    docs = [corpus.retell(rng.choice(sample)) if i % 2 else corpus.doc() for i in range(queries)]
    times: list[float] = []
    found = 0
    async with sessions() as session:
        for i, doc in enumerate(docs):
            report = Report(source="q", channel="q", external_id=f"q{i}", text="-")
            matcher._docs[id(report)] = (report, doc)  # the signature of a synthetic text
            start = time.perf_counter()
            await matcher.prefetch(session, [report])
            match = await matcher.find(session, report, None)
            times.append(time.perf_counter() - start)
            found += match is not None
        await session.rollback()
    await engine.dispose()
    times.sort()
    ms = [t * 1000 for t in times]
    print(f"match latency at {stored:,} stored reports: p50 {statistics.median(ms):.2f} ms, "
          f"p95 {ms[int(len(ms) * 0.95)]:.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms, "
          f"mean {statistics.fmean(ms):.2f} ms ({found}/{queries} matched an existing ticket)")


async def scale(base: Path, sizes: list[int], queries: int) -> None:
    path = base / "scale.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    corpus = Corpus()
    now = datetime.now(UTC)
    stored, sample = 0, []
    for size in sizes:
        start = time.perf_counter()
        sample += fill(path, corpus, stored, size - stored, now)
        keys = sqlite3.connect(path).execute("SELECT count(*) FROM dedup_keys").fetchone()[0]
        print(f"filled to {size:,} reports ({keys:,} keys) in {time.perf_counter() - start:.0f}s")
        stored = size
        await latency(url, base, corpus, sample, queries, stored)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL for parts 1-2 (default: a temp SQLite file)")
    ap.add_argument("--labelled", default=str(LABELLED))
    ap.add_argument("--ingest", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--threshold", type=float, default=None,
                    help="probability bar (default: the bundled model's)")
    ap.add_argument("--model", default=None, help="a model file (default: the bundled one)")
    ap.add_argument("--explain", type=int, metavar="N", default=None,
                    help="only tally why pairs of one cluster miss, N examples each")
    args = ap.parse_args()
    args.model = args.model and str(Path(args.model).resolve())
    if args.explain is not None:
        explain(Path(args.labelled), args.explain)
        return
    base = Path(args.keep or tempfile.mkdtemp(prefix="dedup-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args, base))


async def run(args: argparse.Namespace, base: Path) -> None:
    url1 = args.db or f"sqlite+aiosqlite:///{base / 'quality.db'}"
    url2 = args.db or f"sqlite+aiosqlite:///{base / 'ingest.db'}"
    await quality(url1, base, Path(args.labelled), args.threshold, args.model)
    if HOLDOUT.exists() and Path(args.labelled) == LABELLED:
        await quality(f"sqlite+aiosqlite:///{base / 'holdout.db'}", base, HOLDOUT)
    if args.ingest:
        await ingest_speed(url2, base, args.ingest, args.concurrency)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        await scale(base, sizes, args.queries)


if __name__ == "__main__":
    main()

