"""Full-text search over report text, for the queue's `text` filter.

One small parser reads what staff type, web-search style: words (all must occur),
"quoted phrases", `-word` to exclude, `or` between alternatives. Each database then
gets the same query in its own syntax:

- SQLite: an FTS5 MATCH over `reports_fts` (external content, kept by triggers; see
  migration 0006). Every token is quoted, so no user input is ever FTS5 syntax (a bare
  `AND`, `*`, `:` or an unbalanced quote would otherwise raise). Ranked with bm25().
- PostgreSQL: `websearch_to_tsquery('simple', ...)` against the generated
  `reports.search` tsvector (GIN index). Ranked with ts_rank().

Words are split where SQLite's unicode61 tokenizer splits them (anything not a letter
or digit), so `RT-05` is the phrase "rt 05" on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    any_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Report as ReportRow
from storage.models import Ticket

MAX_CHARS = 200
MAX_TERMS = 16
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,11}-\d{4}-\d{1,9}$")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase
    negated: bool = False
    or_before: bool = False  # joined to the previous term by OR


@dataclass(frozen=True)
class Search:
    terms: tuple[Term, ...]
    number: str | None  # the input as a ticket number, when it looks like one

    @property
    def empty(self) -> bool:
        return not self.terms


def parse(raw: str) -> Search:
    """What staff typed, as terms; negations only count beside a positive term."""
    raw = raw.strip()[:MAX_CHARS]
    number = raw.upper() if NUMBER.match(raw) else None
    terms: list[Term] = []
    pending_or = False
    for m in _PIECE.finditer(raw):
        neg_phrase, phrase, bare = m.group(1), m.group(2), m.group(3)
        if bare is not None and bare.lower() == "or":
            pending_or = bool(terms)
            continue
        negated = bool(neg_phrase) or (bare is not None and bare.startswith("-"))
        words = tuple(w.lower() for w in _WORD.findall(phrase if bare is None else bare))
        if not words:
            continue
        terms.append(Term(words, negated, pending_or and not negated))
        pending_or = False
        if len(terms) >= MAX_TERMS:
            break
    if not any(not t.negated for t in terms):
        terms = []
    return Search(tuple(terms), number)


def _quote(words: tuple[str, ...]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


def fts5_query(s: Search) -> str:
    """The FTS5 MATCH expression: `"a" "b c" OR "d" NOT "e"` with every token quoted."""
    groups: list[list[str]] = []
    for t in s.terms:
        if t.negated:
            continue
        if t.or_before and groups:
            groups[-1].append(_quote(t.words))
        else:
            groups.append([_quote(t.words)])
    positive = " AND ".join(
        g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    negative = [_quote(t.words) for t in s.terms if t.negated]
    return f"({positive})" + "".join(f" NOT {q}" for q in negative) if negative else positive


def websearch_text(s: Search) -> str:
    """The same query in websearch_to_tsquery's syntax, rebuilt from the parsed terms."""
    parts: list[str] = []
    for t in s.terms:
        word = t.words[0] if len(t.words) == 1 else '"' + " ".join(t.words) + '"'
        if t.or_before:
            parts.append("or")
        parts.append(("-" if t.negated else "") + word)
    return " ".join(parts)


def _pg_query(s: Search) -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal_column("'simple'::regconfig"),
                                     bindparam("websearch", websearch_text(s)))


def _pg_match(s: Search) -> ColumnElement[bool]:
    return literal_column("reports.search").bool_op("@@")(_pg_query(s))


# Two ways to find a page of matching tickets in the queue's order, chosen by how many
# reports match (counted first, up to the limit): with few, go from the matches to
# their tickets and sort those; with many, walk the queue in order and keep the tickets
# one of whose reports matches (a page is found after a short walk). Left to itself,
# PostgreSQL's planner walks the queue for a rare word too (it cannot tell that `kelor`
# is everywhere but `kelor 1234` in 150 reports) and reads every ticket.
# SQLite: a covering index maps report id -> ticket; the unary `+` keeps SQLite from
# turning the membership test into a scan of the whole match set.
DRIVE_LIMIT = {"sqlite": 5_000, "postgresql": 5_000}
# PostgreSQL: counting matches reads each matching row from the heap (a GIN index cannot
# answer alone), as dear as driving from them; so walk first, briefly, and count never.
WALK = 600
_FTS_IDS = "SELECT rowid FROM reports_fts WHERE reports_fts MATCH :fts"
_SQLITE_DRIVE = ("SELECT ticket_id FROM reports INDEXED BY ix_reports_id_ticket"
                 f" WHERE id IN ({_FTS_IDS})")
_SQLITE_PROBE = ("EXISTS (SELECT 1 FROM reports AS fr WHERE fr.ticket_id = tickets.id"
                 f" AND +fr.id IN ({_FTS_IDS}))")
_SQLITE_COUNT = f"SELECT count(*) FROM ({_FTS_IDS} LIMIT :cap)"


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _many(session: AsyncSession, s: Search, dialect: str) -> bool:
    cap = DRIVE_LIMIT.get(dialect, DRIVE_LIMIT["postgresql"])
    if dialect == "sqlite":
        stmt: Any = text(_SQLITE_COUNT).bindparams(bindparam("fts", fts5_query(s)),
                                                   bindparam("cap", cap + 1))
    else:
        hits: Any = select(literal_column("1")).select_from(ReportRow).where(_pg_match(s))
        stmt = select(func.count()).select_from(hits.limit(cap + 1).subquery())
    return int((await session.execute(stmt)).scalar_one()) > cap


async def condition(session: AsyncSession, s: Search, *, narrow: bool = False
                    ) -> ColumnElement[bool]:
    """A condition on tickets: the number is `s.number`, or one of its reports matches.
    `narrow`: other conditions already leave few tickets (a live page's recent changes)."""
    parts: list[Any] = [Ticket.number == s.number] if s.number else []
    if not s.empty:
        dialect = _dialect(session)
        walk = narrow or await _many(session, s, dialect)
        if dialect == "sqlite":
            query: Any = bindparam("fts", fts5_query(s))
            parts.append(text(_SQLITE_PROBE).bindparams(query) if walk else Ticket.id.in_(
                text(_SQLITE_DRIVE).bindparams(query).columns(ticket_id=Integer)))
        elif walk:
            parts.append(select(ReportRow.id).where(
                ReportRow.ticket_id == Ticket.id, _pg_match(s)).exists())
        else:  # one array of ticket ids, computed once (an InitPlan), then by primary key
            parts.append(Ticket.id == any_(func.array(
                select(ReportRow.ticket_id).where(_pg_match(s)).scalar_subquery())))
    return or_(*parts) if parts else false()


async def find_page(session: AsyncSession, stmt: Any, s: Search, order: Sequence[Any],
                    n: int) -> list[Ticket]:
    """The first `n` tickets of `stmt` (a filtered `select(Ticket)`) in `order` that
    match `s`. SQLite counts its matches in the FTS index and picks a way; PostgreSQL
    walks the first WALK tickets of the queue and, when they hold fewer than a page of
    matches, goes from the matches to their tickets (then the word is rare: cheap)."""
    if _dialect(session) == "sqlite" or s.empty:
        found = stmt.where(await condition(session, s)).order_by(*order).limit(n)
        return list((await session.execute(found)).scalars())
    ids = list((await session.execute(
        stmt.with_only_columns(Ticket.id).order_by(*order).limit(WALK))).scalars())
    if not ids:
        return []
    # A scalar subquery with LIMIT 1 stays a per-ticket probe (a semi-join could read
    # every match first).
    probe = select(true()).where(ReportRow.ticket_id == Ticket.id, _pg_match(s)).limit(1) \
        .scalar_subquery()
    number = [Ticket.number == s.number] if s.number else []
    first = list((await session.execute(
        stmt.where(Ticket.id.in_(ids), or_(probe, *number)).order_by(*order).limit(n)
    )).scalars())
    if len(first) == n or len(ids) < WALK:
        return first
    drive = Ticket.id == any_(func.array(
        select(ReportRow.ticket_id).where(_pg_match(s)).scalar_subquery()))
    return list((await session.execute(
        stmt.where(or_(drive, *number)).order_by(*order).limit(n))).scalars())


async def best_matches(session: AsyncSession, s: Search, ticket_ids: list[int]
                       ) -> dict[int, dict[str, Any]]:
    """For each ticket, a matching report as a snippet with the spans of the matched
    words: on SQLite the one showing most of the query (most distinct words, then most
    occurrences, then the newest), on PostgreSQL the newest (one probe per ticket; a
    join could read every match of a common word). Only these tickets' reports are
    looked at: ranking every match with bm25() costs about 10 us a row."""
    if _dialect(session) != "sqlite":
        newest = (select(ReportRow.id).where(ReportRow.ticket_id == Ticket.id, _pg_match(s))
                  .order_by(ReportRow.id.desc()).limit(1).scalar_subquery())
        hits = [rid for (rid,) in await session.execute(
            select(newest).where(Ticket.id.in_(ticket_ids))) if rid is not None]
        stmt: Any = select(ReportRow.id, ReportRow.ticket_id, ReportRow.text).where(
            ReportRow.id.in_(hits or [-1]))
    else:
        stmt = text(
            "SELECT r.id, r.ticket_id, r.text FROM reports AS r WHERE r.ticket_id IN :ids"
            f" AND +r.id IN ({_FTS_IDS})"
        ).bindparams(bindparam("fts", fts5_query(s)),
                     bindparam("ids", ticket_ids, expanding=True))
    wanted = {w for t in s.terms if not t.negated for w in t.words}
    best: dict[int, tuple[tuple[int, int, int], int, str]] = {}
    for report_id, ticket_id, body in await session.execute(stmt):
        words = [w.lower() for w in _WORD.findall(body)]
        key = (len(wanted.intersection(words)), sum(w in wanted for w in words), report_id)
        if ticket_id not in best or key > best[ticket_id][0]:
            best[ticket_id] = (key, report_id, body)
    out: dict[int, dict[str, Any]] = {}
    for ticket_id, (_, report_id, body) in best.items():
        shown, spans = snippet(body, s)
        out[ticket_id] = {"report_id": report_id, "snippet": shown,
                          "highlights": [list(span) for span in spans]}
    return out


async def ranked_tickets(session: AsyncSession, s: Search, limit: int = 1000) -> list[int]:
    """Ticket ids by their best report's relevance (bm25 on SQLite, ts_rank on
    PostgreSQL), from the `limit` best-ranked matching reports. Ranking reads every
    match, so on a word most reports contain it costs far more than the urgency order."""
    if s.empty:
        return []
    if _dialect(session) == "sqlite":
        stmt: Any = text(
            "SELECT r.ticket_id FROM (SELECT rowid AS id, rank FROM reports_fts"
            " WHERE reports_fts MATCH :fts ORDER BY rank LIMIT :lim) AS m"
            " JOIN reports AS r ON r.id = m.id ORDER BY m.rank"
        ).bindparams(bindparam("fts", fts5_query(s)), bindparam("lim", limit))
    else:
        score = func.ts_rank(literal_column("reports.search"), _pg_query(s))
        stmt = (select(ReportRow.ticket_id).where(_pg_match(s))
                .order_by(score.desc()).limit(limit))
    ordered: dict[int, None] = {}
    for (ticket_id,) in await session.execute(stmt):
        ordered.setdefault(ticket_id, None)
    return list(ordered)


def snippet(text_: str, s: Search, width: int = 160) -> tuple[str, list[tuple[int, int]]]:
    """A window of `text_` around the first matched word, and the (start, end) spans
    of matched words inside it, for highlighting (the caller escapes the text)."""
    wanted = {w for t in s.terms if not t.negated for w in t.words}
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text_) if m.group().lower() in wanted]
    start = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(text_), start + width)
    if start > 0:
        space = text_.find(" ", start)
        start = space + 1 if 0 <= space < spans[0][0] else start
    inside = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
    return text_[start:end], inside
