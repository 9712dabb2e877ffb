"""The near-duplicate index (`dedup_docs`, `dedup_keys`) as one ingest transaction
sees it: the statements that read a report's candidates from the database, and the
rows the transaction adds.

Reads: per key only its newest PER_KEY rows (only reports indexed within
`max_age_days`), counted per stored report; the reports sharing the most keys are
read with their signature, ticket and any "split apart" mark (on tickets still open or
closed within `closed_window_days`). Writes: the rows of a transaction are written in
one multi-row insert per table just before it commits (a `before_commit` hook), not one
round trip per report; until then `Pending.candidates` searches them in memory, so the
reports of one batch still see each other, and the index commits with the reports.
"""

from __future__ import annotations

import functools
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, bindparam, column, event, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aggregator.config import DedupSettings
from aggregator.dedup.features import Doc, Place
from aggregator.domain import OPEN_STATES
from storage import repo
from storage.models import DedupApart, DedupDoc, DedupKey, Ticket
from storage.models import Report as ReportRow
from storage.types import UTCDateTime, utcnow

PER_KEY = 20  # newest rows read per key
KEY_SLOTS = 40  # keys a statement asks where there are no arrays (SQLite)
# ... when a batch's candidates are read ahead (`newest`): a batch of 100 mails asks
# ~3,000 keys, which cost the event loop ~25 ms in statements of 40 and ~15 ms in
# statements of 160 (no less in larger ones; SQLite allows 500 terms of a UNION ALL).
NEWEST_SLOTS = 160
_OPEN = [str(s) for s in OPEN_STATES]
_LOCK_CLASS = 0x44454450  # advisory lock namespace of the candidate keys
_PENDING_KEY = "dedup_pending"
_PREFETCH_KEY = "dedup_prefetch"
_FOLDS_KEY = "dedup_folds"

# ---------------------------------------------------------------- reads


async def lock(session: AsyncSession, keys: Iterable[int]) -> None:
    """On PostgreSQL, replicas ingest at once: two reports of one incident landing on
    two processes together would each find no candidate (neither sees the other's
    uncommitted rows) and open two tickets. So a transaction first takes an advisory lock
    on each of its reports' specific keys (`lock_keys`: text bands, places, names,
    contact; folded to 32 bits and taken in one order, so two transactions cannot
    deadlock on them): reports that could match are judged one after the other, and the
    later one sees the earlier one's committed ticket. Unrelated reports share no such
    key and never wait for each other; the broad keys (a kind of incident over six
    hours, a map cell) are left out, or every power cut of an afternoon would queue.
    `keys` may be lazy: on SQLite (one process per database, one writer at a time)
    they are never computed."""
    if repo.dialect(session) != "postgresql":
        return
    folded = sorted({((k ^ (k >> 32)) & 0xFFFFFFFF) - (1 << 31) for k in keys})
    if not folded:
        return
    await session.execute(
        text("SELECT count(pg_advisory_xact_lock(:c, k))"
             " FROM unnest(CAST(:keys AS integer[])) AS k"),
        {"c": _LOCK_CLASS, "keys": folded},
    )


async def newest(session: AsyncSession, keys: list[int], since: datetime,
                 slots: int = NEWEST_SLOTS) -> dict[int, list[int]]:
    """Per key the ids of its newest PER_KEY stored reports (an index range scan each):
    a key that thousands of stored reports share (a kind of incident this afternoon, a
    common name) costs no more than a rare one, so a batch does not grow with the
    table. On PostgreSQL one statement for all keys (an array; a batch asks ~1,000),
    elsewhere `slots` keys a statement (the answer does not depend on it)."""
    by_key: dict[int, list[int]] = {}
    params = {"since": since, "per_key": PER_KEY}
    if repo.dialect(session) == "postgresql":
        result: Any = await session.execute(_newest_pg_sql(), {**params, "keys": keys})
        for key, rid in result:
            by_key.setdefault(key, []).append(rid)
        return by_key
    for chunk in repo.chunks(keys, slots):
        values = {f"k{i}": chunk[i] if i < len(chunk) else 0 for i in range(slots)}
        rows = await repo.sqlite_rows(session, _newest_sql(slots), {**params, **values})
        for key, rid, _ in rows:
            by_key.setdefault(key, []).append(rid)
    return by_key


async def candidates(session: AsyncSession, keys: list[int], now: datetime,
                     cfg: DedupSettings) -> list[Any]:
    """One report's candidates in one statement: per key the newest PER_KEY rows,
    counted per report, the best `max_candidates` joined to their signature and
    ticket. Textual and of fixed shape (unused key slots ask for key 0, which no report
    has), so SQLAlchemy does not rebuild and re-hash a large statement per report."""
    keys = keys[:KEY_SLOTS]
    params: dict[str, Any] = {f"k{i}": keys[i] if i < len(keys) else 0
                              for i in range(KEY_SLOTS)}
    params.update(
        since=now - timedelta(days=cfg.max_age_days),
        closed_since=now - timedelta(days=cfg.closed_window_days),
        per_key=PER_KEY, n=cfg.max_candidates,
    )
    if repo.dialect(session) == "sqlite":
        return [Candidate._make((*row[:9], repo.sqlite_stamp(session, row[9]), row[10],
                                 bool(row[11]), row[12]))
                for row in await repo.sqlite_rows(session, _candidate_text(), params)]
    result = await session.execute(_candidate_sql(), params)
    return list(result.all())


class Candidate(NamedTuple):
    """A row of `_candidate_sql`, read without SQLAlchemy (`repo.sqlite_rows`)."""

    report_id: int
    topic: str
    names: str
    weak: str
    places: str
    ids: str
    lat: float | None
    lon: float | None
    contact: str | None
    at: datetime | None
    ticket_id: int
    confidential: bool
    apart: int | None


def most_shared(by_key: dict[int, list[int]], keys: list[int], n: int) -> list[int]:
    """The `n` reports found under most of `keys` (`by_key`, as `newest` gives it),
    then the newest (ids are unique, so this is the order sorted() would give, without
    sorting every row)."""
    hits = Counter(chain.from_iterable(by_key[k] for k in keys if k in by_key))
    return [rid for rid, _ in heapq.nsmallest(n, hits.items(),
                                              key=lambda kv: (-kv[1], -kv[0]))]


async def rows_by_id(session: AsyncSession, ids: list[int], now: datetime,
                     cfg: DedupSettings) -> dict[int, Any]:
    """Stored reports with their signature, ticket and "split apart" mark, by id;
    those on tickets merged away or closed too long ago are left out."""
    rows: dict[int, Any] = {}
    for chunk in repo.chunks(sorted(ids), 500):
        result = await session.execute(_docs_sql(now, cfg), {"ids": chunk})
        rows.update((row.report_id, row) for row in result)
    return rows


def keep_prefetched(session: AsyncSession, found: dict[int, Any]) -> None:
    """A batch's candidates, read ahead for `find` (a rollback drops them)."""
    session.info[_PREFETCH_KEY] = found


def prefetched(session: AsyncSession) -> dict[int, Any]:
    found: dict[int, Any] = session.info.get(_PREFETCH_KEY, {})
    return found


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
def _newest_sql(slots: int) -> str:
    """Per key slot its newest `per_key` rows; fixed shape (unused slots ask for key 0,
    which no report has), so the statement is built and prepared once (SQLite)."""
    return " UNION ALL ".join(
        f"SELECT key, report_id, at FROM (SELECT key, report_id, at FROM dedup_keys "
        f"WHERE key = :k{i} AND at >= :since ORDER BY at DESC, report_id DESC "
        f"LIMIT :per_key) AS s{i}"
        for i in range(slots)
    )


@functools.cache
def _candidate_text() -> str:
    return str(_candidate_sql())


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
        ORDER BY c.hits DESC, c.rid DESC
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


# ---------------------------------------------------------------- writes


@dataclass
class Indexed:
    report_id: int
    ticket_id: int
    doc: Doc
    keys: frozenset[int]
    apart: int | None = None
    confidential: bool = False


@dataclass
class Pending:
    items: list[Indexed] = field(default_factory=list)
    by_key: dict[int, list[int]] = field(default_factory=dict)  # key -> positions in items

    def add(self, report_id: int, ticket_id: int, doc: Doc, keys: list[int],
            confidential: bool = False) -> None:
        item = Indexed(report_id, ticket_id, doc, frozenset(keys), confidential=confidential)
        n = len(self.items)
        self.items.append(item)
        for key in item.keys:
            self.by_key.setdefault(key, []).append(n)

    def candidates(self, keys: set[int], limit: int) -> list[Indexed]:
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


def pending(session: AsyncSession) -> Pending:
    """The transaction's rows to write (created, and its commit hook set, at first use)."""
    pending = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = Pending()
        event.listen(session.sync_session, "before_commit", _write_pending)
        event.listen(session.sync_session, "after_rollback", _drop_pending)
    return pending


def added(session: AsyncSession) -> Pending | None:
    """The rows the transaction has added so far, if any."""
    found: Pending | None = session.info.get(_PENDING_KEY)
    return found


@dataclass
class Folds:
    """Tickets the matcher found to be fragments of one incident in this transaction
    (`matcher.LshMatcher._choose`): `into` maps each folded ticket to the one it joins,
    so the batch's later reports already see one ticket; `todo` holds the merges
    (source, target, why) that `LshMatcher.settle` writes before the commit."""

    into: dict[int, int] = field(default_factory=dict)
    todo: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)

    def resolve(self, ticket_id: int) -> int:
        while ticket_id in self.into:
            ticket_id = self.into[ticket_id]
        return ticket_id


def folds(session: AsyncSession) -> Folds:
    """The transaction's folds (a rollback drops them with the rest)."""
    found: Folds | None = session.info.get(_FOLDS_KEY)
    if found is None:
        found = session.info[_FOLDS_KEY] = Folds()
    return found


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending is not None:
        pending.write(session)  # runs inside the commit's greenlet: sync calls are fine


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_PREFETCH_KEY, None)
    session.info.pop(_FOLDS_KEY, None)


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
