"""The database-backed near-duplicate matcher (the pipeline's `NearDuplicateMatcher`).

Per new report: one query finds the stored reports sharing the most candidate keys
(only reports indexed within `max_age_days`, on tickets still open or closed within
`closed_window_days`) together with their signatures, ticket and any "split apart"
mark; each is verified in Python (`similarity.compare`); the best ticket wins. Per
stored report: one insert of its signature, one multi-row insert of its keys. Both run
inside the ingest transaction, so the index commits with the report.
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import (
    BigInteger,
    bindparam,
    column,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aggregator.config import DedupSettings
from aggregator.dedup.features import Doc, Place, extract
from aggregator.dedup.keys import index_keys, lock_keys, query_keys
from aggregator.dedup.similarity import Verdict
from aggregator.dedup.verdict import compare, may_recur
from aggregator.domain import OPEN_STATES, Report
from aggregator.intake.matching import Match
from storage import repo
from storage.models import DedupApart, DedupDoc, DedupKey, Ticket
from storage.models import Report as ReportRow
from storage.types import UTCDateTime, utcnow

log = logging.getLogger("aggregator.dedup")
PER_KEY = 20  # newest rows read per key
PARSED_CACHE = 1_000  # ~3.8 KB a parsed signature (parsing one takes ~40 us)
SIGNATURES = 20_000  # prepared signatures waiting for their transaction
PER_TICKET = 3  # reports of one ticket verified per new report (most shared keys first)
KEY_SLOTS = 40  # keys looked up per report (20 bands + places + 9 cells + contact)
_OPEN = [str(s) for s in OPEN_STATES]


@dataclass
class _Best:
    ticket_id: int
    report_id: int
    verdict: Verdict


class LshMatcher:
    def __init__(self, settings: DedupSettings):
        self.settings = settings
        self._docs: dict[int, tuple[Report, Doc]] = {}  # id(report) -> signature
        self._rows: dict[int, Doc] = {}  # report id -> stored signature, parsed

    # ------------------------------------------------------------------ protocol

    async def find(
        self, session: AsyncSession, report: Report, reporter_id: int | None
    ) -> Match | None:
        doc = self.signature(report)
        keys = query_keys(doc)
        if not keys:
            return None
        now = utcnow()
        prefetched = session.info.get(_PREFETCH_KEY, {}).get(id(report))
        if prefetched is not None and prefetched[0] is report:
            rows = list(prefetched[2])
        else:
            rows = await self._candidates(session, keys, now)
        pending = session.info.get(_PENDING_KEY)
        if pending is not None:
            # Most shared keys first, as many as from the table: a key every report of
            # a batch shares (one kind of incident) must not make the batch quadratic.
            rows += pending.candidates(set(keys), 2 * self.settings.max_candidates)
        # Only tickets on the report's side of the confidentiality boundary: the best
        # match being a sealed ticket must not keep an open report from its open one.
        best = self._choose(doc, [r for r in rows if bool(r.confidential) == report.sealed])
        if best is None:
            return None
        return Match(
            ticket_id=best.ticket_id, score=best.verdict.score,
            detail={"matched_report_id": best.report_id, **best.verdict.detail},
            recurrence=not best.verdict.same,
        )

    async def index(
        self, session: AsyncSession, report: Report, report_id: int, ticket_id: int,
        confidential: bool = False,
    ) -> None:
        doc = self.signature(report)
        self._docs.pop(id(report), None)
        _pending(session).add(report_id, ticket_id, doc, index_keys(doc), confidential)

    async def prefetch(self, session: AsyncSession, reports: Sequence[Report]) -> None:
        """Candidates for a whole batch in a few statements instead of one per report
        (optional; the pipeline calls it when present). Per key the newest PER_KEY
        stored reports count, as in `_candidates`."""
        cfg = self.settings
        now = utcnow()
        docs = {}
        for r in reports:
            doc = self.signature(r)
            docs[id(r)] = (r, doc, query_keys(doc))
        wanted = sorted({k for _, _, keys in docs.values() for k in keys})
        await _serialise(session, sorted({k for _, doc, _ in docs.values()
                                          for k in lock_keys(doc)}))
        by_key = await _newest(session, wanted, now - timedelta(days=cfg.max_age_days))
        tops: dict[int, list[int]] = {}
        for rid_of, (_, _, keys) in docs.items():
            hits = Counter(chain.from_iterable(by_key[k] for k in keys if k in by_key))
            # Most shared keys first, then the newest report (ids are unique, so this
            # is the order sorted() would give, without sorting every row).
            best = heapq.nsmallest(cfg.max_candidates, hits.items(),
                                   key=lambda kv: (-kv[1], -kv[0]))
            tops[rid_of] = [rid for rid, _ in best]
        ids = sorted({rid for top in tops.values() for rid in top})
        rows: dict[int, Any] = {}
        for chunk in repo.chunks(ids, 500):
            result = await session.execute(_docs_sql(now, cfg), {"ids": chunk})
            rows.update((row.report_id, row) for row in result)
        session.info[_PREFETCH_KEY] = {
            rid_of: (report, doc, [rows[r] for r in tops[rid_of] if r in rows])
            for rid_of, (report, doc, _) in docs.items()
        }

    def prepare(self, reports: Sequence[Report]) -> None:
        """Signatures and keys before the write transaction (the pipeline calls this
        when present); find() and index() then only look them up."""
        for report in reports:
            index_keys(self.signature(report))

    # ------------------------------------------------------------------ steps

    def _parsed(self, row: Any) -> Doc:
        """Stored signatures never change: parse each once while it is in use. Least
        recently used first out: the reports of an ongoing incident are candidates
        again and again and stay; the one-off candidates of a steady stream leave, so
        the cache keeps a working set, not a copy of every report verified lately."""
        doc = self._rows.pop(row.report_id, None)
        if doc is None:
            if len(self._rows) >= PARSED_CACHE:
                self._rows.pop(next(iter(self._rows)))
            doc = doc_from_row(row)
        self._rows[row.report_id] = doc  # newest last
        return doc

    def signature(self, report: Report) -> Doc:
        """The report's signature, computed once for find() and index()."""
        cached = self._docs.get(id(report))
        if cached is not None and cached[0] is report:
            return cached[1]
        doc = extract(report.text, title=report.title, author=report.author,
                      meta=report.meta, at=report.sent_at or utcnow())
        if len(self._docs) > SIGNATURES:  # entries leave in index(); this bounds the rest
            self._docs.clear()
        self._docs[id(report)] = (report, doc)
        return doc

    async def _candidates(self, session: AsyncSession, keys: list[int], now: datetime
                          ) -> list[Any]:
        """One statement: per key the newest PER_KEY rows (an index range scan each,
        so a key that half the reports share costs no more than a rare one), counted
        per report, the best `max_candidates` joined to their signature and ticket.
        Textual and of fixed shape (unused key slots ask for key 0, which no report
        has), so SQLAlchemy does not rebuild and re-hash a large statement per report."""
        cfg = self.settings
        keys = keys[:KEY_SLOTS]
        params: dict[str, Any] = {f"k{i}": keys[i] if i < len(keys) else 0
                                  for i in range(KEY_SLOTS)}
        params.update(
            since=now - timedelta(days=cfg.max_age_days),
            closed_since=now - timedelta(days=cfg.closed_window_days),
            per_key=PER_KEY, n=cfg.max_candidates,
        )
        result = await session.execute(_candidate_sql(), params)
        return list(result.all())

    def _choose(self, doc: Doc, rows: list[Any]) -> _Best | None:
        """Verify candidates, best first, at most PER_TICKET reports of a ticket (the
        ones sharing most keys): a burst of one incident retold a hundred times costs a
        few comparisons per report, not a hundred. A ticket is joined when one of them
        matches and none of them is certainly another incident (a hard "no" of the
        rules: different places, names, personal numbers): matching one loose report
        of a ticket is not enough to join it, so a chain of near misses does not grow
        one ticket over several incidents. Tickets a candidate was split from are
        verified in full (the split rule needs the best verdict on both sides). With
        no match, the best earlier ticket the report would have joined but for the
        recurrence rule (its verdict not `same`)."""
        by_ticket: dict[int, _Best] = {}
        recurs: _Best | None = None
        apart: list[tuple[int, Verdict]] = []  # (ticket split from, verdict vs the report)
        guarded = {stored.apart for stored in rows if stored.apart is not None}
        tried: dict[int, int] = {}
        dissent: set[int] = set()
        for stored in rows:
            ticket_id, apart_from = stored.ticket_id, stored.apart
            if apart_from is None and ticket_id not in guarded and \
                    tried.get(ticket_id, 0) >= PER_TICKET:
                continue
            tried[ticket_id] = tried.get(ticket_id, 0) + 1
            other = stored.doc if isinstance(stored, _Indexed) else self._parsed(stored)
            if ticket_id in dissent and apart_from is None and \
                    not may_recur(doc, other, self.settings):
                # The ticket is out already (a report of it is certainly another
                # incident): this verdict could change nothing. The rules' hard "no"
                # is most of what a stream of distinct reports is verified against.
                continue
            verdict = compare(doc, other, self.settings)
            if verdict.detail.get("apart") not in (None, "recurrence"):
                dissent.add(ticket_id)
            if not verdict.same:
                if verdict.detail.get("recurs") and apart_from is None and (
                        recurs is None or _rank(verdict) > _rank(recurs.verdict)):
                    recurs = _Best(ticket_id, stored.report_id, verdict)
                continue
            if apart_from is not None:
                apart.append((apart_from, verdict))
            current = by_ticket.get(ticket_id)
            if current is None or _rank(verdict) > _rank(current.verdict):
                by_ticket[ticket_id] = _Best(ticket_id, stored.report_id, verdict)
        for ticket_id in dissent:
            by_ticket.pop(ticket_id, None)
        # Staff split report R out of ticket T: a report at least as close to R as to
        # T is not folded into T.
        for from_ticket, verdict in apart:
            held = by_ticket.get(from_ticket)
            if held is not None and _rank(held.verdict) <= _rank(verdict):
                del by_ticket[from_ticket]
        if not by_ticket:
            return recurs
        return max(by_ticket.values(), key=lambda b: (_rank(b.verdict), -b.ticket_id))


_LOCK_CLASS = 0x44454450  # advisory lock namespace of the candidate keys


async def _serialise(session: AsyncSession, keys: list[int]) -> None:
    """On PostgreSQL, replicas ingest at once: two reports of one incident landing on
    two processes together would each find no candidate (neither sees the other's
    uncommitted rows) and open two tickets. So a transaction first takes an advisory lock
    on each of its reports' specific keys (`lock_keys`: text bands, places, names,
    contact; folded to 32 bits and taken in one order, so two transactions cannot
    deadlock on them): reports that could match are judged one after the other, and the
    later one sees the earlier one's committed ticket. Unrelated reports share no such
    key and never wait for each other; the broad keys (a kind of incident over six
    hours, a map cell) are left out, or every power cut of an afternoon would queue."""
    if not keys or session.get_bind().dialect.name != "postgresql":
        return  # SQLite: one process per database, one writer at a time
    folded = sorted({((k ^ (k >> 32)) & 0xFFFFFFFF) - (1 << 31) for k in keys})
    await session.execute(
        text("SELECT count(pg_advisory_xact_lock(:c, k))"
             " FROM unnest(CAST(:keys AS integer[])) AS k"),
        {"c": _LOCK_CLASS, "keys": folded},
    )


async def _newest(session: AsyncSession, keys: list[int], since: datetime
                  ) -> dict[int, list[int]]:
    """Per key the ids of its newest PER_KEY stored reports (an index range scan each):
    a key that thousands of stored reports share (a kind of incident this afternoon, a
    common name) costs no more than a rare one, so a batch does not grow with the
    table. On PostgreSQL one statement for all keys (an array; a batch asks ~1,000),
    elsewhere KEY_SLOTS keys a statement."""
    by_key: dict[int, list[int]] = {}
    params = {"since": since, "per_key": PER_KEY}
    if repo.dialect(session) == "postgresql":
        result: Any = await session.execute(_newest_pg_sql(), {**params, "keys": keys})
        for key, rid in result:
            by_key.setdefault(key, []).append(rid)
        return by_key
    for chunk in repo.chunks(keys, KEY_SLOTS):
        slots = {f"k{i}": chunk[i] if i < len(chunk) else 0 for i in range(KEY_SLOTS)}
        result = await session.execute(_newest_sql(), {**params, **slots})
        for key, rid, _ in result:
            by_key.setdefault(key, []).append(rid)
    return by_key


@functools.cache
def _newest_pg_sql() -> Any:
    """`_newest_sql` for every key at once: a nested loop over the array, the same
    index range scan per key."""
    return text(
        "SELECT k.key, s.report_id FROM unnest(CAST(:keys AS bigint[])) AS k(key)"
        " CROSS JOIN LATERAL (SELECT d.report_id FROM dedup_keys d"
        " WHERE d.key = k.key AND d.at >= :since"
        " ORDER BY d.at DESC, d.report_id DESC LIMIT :per_key) AS s"
    ).bindparams(bindparam("since", type_=UTCDateTime))


@functools.cache
def _newest_sql() -> Any:
    """Per key slot its newest `per_key` rows; fixed shape (unused slots ask for key 0,
    which no report has), so the statement is built and cached once."""
    parts = " UNION ALL ".join(
        f"SELECT key, report_id, at FROM (SELECT key, report_id, at FROM dedup_keys "
        f"WHERE key = :k{i} AND at >= :since ORDER BY at DESC, report_id DESC "
        f"LIMIT :per_key) AS s{i}"
        for i in range(KEY_SLOTS)
    )
    return text(parts).bindparams(bindparam("since", type_=UTCDateTime),
                                  *(bindparam(f"k{i}", type_=BigInteger)
                                    for i in range(KEY_SLOTS)))


@functools.cache
def _candidate_sql() -> Any:
    parts = " UNION ALL ".join(
        f"SELECT report_id FROM (SELECT report_id FROM dedup_keys WHERE key = :k{i} "
        f"AND at >= :since ORDER BY at DESC, report_id DESC "
        f"LIMIT :per_key) AS s{i}"
        for i in range(KEY_SLOTS)
    )
    states = ", ".join(f"'{s}'" for s in sorted(_OPEN))
    sql = f"""
        SELECT d.report_id, d.topic, d.names, d.weak, d.places, d.ids, d.lat, d.lon,
               d.contact, d.at, r.ticket_id, t.confidential,
               (SELECT max(a.ticket_id) FROM dedup_apart a
                 WHERE a.report_id = c.rid) AS apart
        FROM (SELECT f.report_id AS rid, count(*) AS hits
                FROM ({parts}) AS f
               GROUP BY f.report_id
               ORDER BY count(*) DESC, f.report_id DESC
               LIMIT :n) AS c
        JOIN dedup_docs d ON d.report_id = c.rid
        JOIN reports r ON r.id = c.rid
        JOIN tickets t ON t.id = r.ticket_id
        WHERE t.merged_into_id IS NULL
          AND (t.state IN ({states}) OR t.updated_at >= :closed_since)
    """
    return (
        text(sql)
        .bindparams(bindparam("since", type_=UTCDateTime),
                    bindparam("closed_since", type_=UTCDateTime),
                    *(bindparam(f"k{i}", type_=BigInteger) for i in range(KEY_SLOTS)))
        .columns(DedupDoc.report_id, DedupDoc.topic, DedupDoc.names, DedupDoc.weak,
                 DedupDoc.places, DedupDoc.ids, DedupDoc.lat, DedupDoc.lon,
                 DedupDoc.contact, DedupDoc.at, ReportRow.ticket_id, Ticket.confidential,
                 column("apart", BigInteger))
    )


def _docs_sql(now: datetime, cfg: DedupSettings) -> Any:
    apart = (
        select(func.max(DedupApart.ticket_id))
        .where(DedupApart.report_id == DedupDoc.report_id)
        .scalar_subquery()
    )
    return (
        select(DedupDoc.report_id, DedupDoc.topic, DedupDoc.names, DedupDoc.weak,
               DedupDoc.places, DedupDoc.ids, DedupDoc.lat, DedupDoc.lon, DedupDoc.contact,
               DedupDoc.at, ReportRow.ticket_id, Ticket.confidential, apart.label("apart"))
        .join(ReportRow, ReportRow.id == DedupDoc.report_id)
        .join(Ticket, Ticket.id == ReportRow.ticket_id)
        .where(
            DedupDoc.report_id.in_(bindparam("ids", expanding=True)),
            Ticket.merged_into_id.is_(None),
            or_(Ticket.state.in_(_OPEN),
                Ticket.updated_at >= now - timedelta(days=cfg.closed_window_days)),
        )
    )


def _rank(verdict: Verdict) -> tuple[float, float]:
    """Score (capped at 1), then the bare text similarity to break ties."""
    return verdict.score, verdict.detail.get("text", 0.0)


# ---------------------------------------------------------------- pending writes
#
# Index rows of a transaction are written in one multi-row insert per table just
# before it commits (a `before_commit` hook), not one round trip per report; until
# then `find` searches them in memory, so reports of one batch still see each other.

_PENDING_KEY = "dedup_pending"
_PREFETCH_KEY = "dedup_prefetch"


@dataclass
class _Indexed:
    report_id: int
    ticket_id: int
    doc: Doc
    keys: frozenset[int]
    apart: int | None = None
    confidential: bool = False


@dataclass
class _Pending:
    items: list[_Indexed] = field(default_factory=list)
    by_key: dict[int, list[int]] = field(default_factory=dict)  # key -> positions in items

    def add(self, report_id: int, ticket_id: int, doc: Doc, keys: list[int],
            confidential: bool = False) -> None:
        item = _Indexed(report_id, ticket_id, doc, frozenset(keys), confidential=confidential)
        n = len(self.items)
        self.items.append(item)
        for key in item.keys:
            self.by_key.setdefault(key, []).append(n)

    def candidates(self, keys: set[int], limit: int) -> list[_Indexed]:
        """This transaction's `limit` reports sharing the most keys with `keys`, most
        first (ties in order of first appearance). Counted per key list, not by set
        intersections: in a burst every report of the batch shares most keys."""
        by_key = self.by_key
        hits = Counter(chain.from_iterable(by_key[k] for k in keys if k in by_key))
        # nsmallest is sorted()[:limit], ties included, without sorting them all.
        top = heapq.nsmallest(limit, hits.items(), key=lambda kv: -kv[1])
        return [self.items[n] for n, _ in top]

    def write(self, session: Session) -> None:
        if not self.items:
            return
        now = utcnow()
        conn = session.connection()
        docs = [doc_row(i.doc, i.report_id) for i in self.items]
        repo.insert_rows(conn, DedupDoc, _DOC_COLUMNS,
                         [tuple(d[c] for c in _DOC_COLUMNS) for d in docs])
        # About 30 rows a report: straight to the driver (see `repo.insert_rows`).
        repo.insert_rows(conn, DedupKey, ("key", "at", "report_id"),
                         [(k, now, i.report_id) for i in self.items for k in i.keys])
        self.items.clear()
        self.by_key.clear()


def _pending(session: AsyncSession) -> _Pending:
    pending = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = _Pending()
        event.listen(session.sync_session, "before_commit", _write_pending)
        event.listen(session.sync_session, "after_rollback", _drop_pending)
    return pending


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending is not None:
        pending.write(session)  # runs inside the commit's greenlet: sync calls are fine


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_PREFETCH_KEY, None)


_DOC_COLUMNS = ("report_id", "topic", "names", "weak", "places", "ids", "lat", "lon",
                "contact", "at")


def doc_row(doc: Doc, report_id: int) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "topic": " ".join(sorted(doc.topic)),
        "names": " ".join(sorted(doc.names)),
        "weak": " ".join(sorted(doc.weak)),
        "places": "|".join(p.dump() for p in doc.places),
        "ids": " ".join(sorted(doc.ids)),
        "lat": doc.lat,
        "lon": doc.lon,
        "contact": doc.contact,
        "at": datetime.fromtimestamp(doc.at, UTC) if doc.at else utcnow(),
    }


def doc_from_row(row: Any) -> Doc:
    return Doc(
        topic=frozenset(row.topic.split()),
        names=frozenset(row.names.split()),
        places=tuple(Place.load(p) for p in row.places.split("|") if p),
        ids=frozenset(row.ids.split()),
        weak=frozenset(row.weak.split()),
        lat=row.lat,
        lon=row.lon,
        contact=row.contact,
        at=row.at.timestamp() if row.at else 0.0,
    )
