"""The matcher's shortcuts answer exactly as the plain definitions they skip work of.

Each shortcut below must never change a verdict: a first-letter test before trying
every contraction or window of two place names (the plain definition, as written
before the shortcut, is checked against the function in use on many generated names,
from a small alphabet so that agreeing, contracted and typo'd names are frequent);
larger statements for a batch's candidate keys (the same rows per key), one statement
for a report arriving alone (the same candidates as a batch's); Sastrawi's
answer for a word with a suffix and no prefix, without trying its prefix rules.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.exc import OperationalError

from aggregator.dedup import build_matcher, normalize, store
from aggregator.dedup import keys as keys_mod
from aggregator.dedup.abbrev import _contraction, shortened, skeleton_of
from aggregator.dedup.fuzzy import missing, overlap, typo
from aggregator.dedup.lexicon import sastrawi_dictionary
from aggregator.dedup.similarity import _contained, _word_eq
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage import repo
from storage.db import create_engine, session_factory
from storage.models import DedupKey
from storage.types import UTCDateTime, utcnow
from tests.connectors.email.mails import distinct_text

# Few letters, short syllables: "pasming" ~ "pas" "ming", initials, typos all occur.
_letters = st.sampled_from("abmnps")
_word = st.text(_letters, min_size=1, max_size=7) | st.sampled_from(
    ["pasar", "minggu", "pasming", "pm", "medan", "medsel", "selatan", "3", "13"])
_name = st.lists(_word, min_size=0, max_size=4).map(tuple)


def _shortened_plain(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`abbrev.shortened` without the first-letter shortcut."""
    if not short or not long or len(long) < 2:
        return False
    head = short[0]
    if not head.isalpha() or len(head) < 2:
        return False
    for k in range(len(long), 1, -1):
        words = long[:k]
        if head == "".join(w[0] for w in words) or _contraction(head, words):
            rest_short, rest_long = short[1:], long[k:]
            return all(x == y or skeleton_of(x, y) or skeleton_of(y, x)
                       for x, y in zip(rest_short, rest_long, strict=False))
    return False


def _contained_plain(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`similarity._contained` without the first-letter shortcut."""
    n = len(short)
    return any(
        all(_word_eq(x, y) for x, y in zip(short, long[i : i + n], strict=True))
        for i in range(len(long) - n + 1)
    )


@settings(max_examples=1500, deadline=None)
@given(_name, _name)
def test_shortened_is_the_plain_definition(short: tuple[str, ...],
                                           long: tuple[str, ...]) -> None:
    assert shortened(short, long) == _shortened_plain(short, long)


@settings(max_examples=1500, deadline=None)
@given(_name, _name)
def test_contained_is_the_plain_definition(short: tuple[str, ...],
                                           long: tuple[str, ...]) -> None:
    assert _contained(short, long) == _contained_plain(short, long)


# Words that are often typos of each other (one long stem, cut and a letter or two
# added) or close but not typos (a letter put before: the first letter differs).
_typoed = st.builds(lambda head, stem, cut, tail: head + stem[:cut] + tail,
                    st.sampled_from(["", "", "k"]), st.sampled_from(
    ["sukamaju", "cibubur", "pasarminggu", "kalideres", "sumberejo", "tanjungpriok"]),
    st.integers(2, 11), st.text(st.sampled_from("aeiourk"), max_size=3))
_word_or_typo = _typoed | st.text(_letters, min_size=1, max_size=9)
_words = st.frozensets(_word_or_typo, max_size=8) | st.frozensets(  # both paths
    _word_or_typo, min_size=20, max_size=60)


def _overlap_plain(a: frozenset[str], b: frozenset[str]) -> bool:
    """`fuzzy.overlap` without the first-letter index or prefilter."""
    return bool(a & b) or any(typo(x, y) for x in a for y in b)


@settings(max_examples=300, deadline=None)
@given(_words, _words)
def test_overlap_and_missing_are_the_plain_definitions(a: frozenset[str],
                                                       b: frozenset[str]) -> None:
    """Large sets take the indexed path (`overlap`) and the all-pairs matrix in C
    (`missing`); small ones the word-by-word loop. All answer as the plain loop."""
    assert overlap(a, b) == _overlap_plain(a, b)
    assert missing(sorted(a), b) == [w for w in sorted(a)
                                     if not _overlap_plain(frozenset((w,)), b)]


def test_the_generated_names_do_agree_sometimes() -> None:
    """The properties above are only worth something if "yes" answers occur."""
    assert shortened(("pasming",), ("pasar", "minggu"))
    assert shortened(("pm", "b"), ("pasar", "minggu", "b"))
    assert _contained(("minggu",), ("pasar", "minggu"))
    assert _contained(("pasar", "sukabummi"), ("rs", "pasar", "sukabumi"))  # a typo
    many = frozenset(f"kampung{c}{d}" for c in "bcdfghjklm" for d in "nprst")  # 50 words
    assert missing(["kampungbx", "sukamaju", "kampungbn"], many) == ["sukamaju"]
    assert overlap(frozenset({"kampungbx"}), many)


async def test_newest_answers_the_same_however_many_keys_a_statement_asks(
        sessions, settings) -> None:
    """`store.newest` chunks a batch's keys into statements (`NEWEST_SLOTS` keys each
    on SQLite); what it finds per key must not depend on the chunk size."""
    # All in one window of the kind-of-incident keys, whatever the time of day (spread
    # over two hours, they fell into two windows when a boundary came between).
    window = keys_mod.EVENT_HOURS * 3600
    start = datetime.fromtimestamp(utcnow().timestamp() // window * window, UTC)
    reports = [Report(source="x", channel="twitter", external_id=str(i),
                      text=distinct_text(i % 40), author=Author(handle=f"warga{i}"),
                      sent_at=start + timedelta(seconds=i))
               for i in range(120)]  # a few keys shared by more than PER_KEY reports
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    try:
        await ingestor.submit(reports)
    finally:
        await ingestor.close()
    async with sessions() as session:
        keys = sorted({k for (k,) in await session.execute(select(DedupKey.key))})
        keys += [7, 8]  # keys no report has
        since = utcnow() - timedelta(days=30)
        wide = await store.newest(session, keys, since)
        narrow = await store.newest(session, keys, since, slots=7)
    assert len(keys) > 2 * store.NEWEST_SLOTS
    assert any(len(rids) == store.PER_KEY for rids in wide.values())
    assert wide == narrow


async def test_a_report_alone_finds_what_a_batch_would(sessions, settings) -> None:
    """A batch of at most `matcher.ALONE` reports reads each one's candidates in one
    statement (`store.candidates`, on SQLite straight from the driver); a larger one
    reads them for all at once (`store.newest`, `most_shared`, `rows_by_id`). The same
    stored reports, in the same order, with the same columns, either way."""
    window = keys_mod.EVENT_HOURS * 3600
    start = datetime.fromtimestamp(utcnow().timestamp() // window * window, UTC)
    reports = [Report(source="x", channel="twitter", external_id=str(i),
                      text=distinct_text(i % 40), author=Author(handle=f"warga{i}"),
                      sent_at=start + timedelta(seconds=i))
               for i in range(120)]
    matcher = build_matcher(settings)
    assert matcher is not None
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=matcher))
    try:
        await ingestor.submit(reports)
    finally:
        await ingestor.close()
    cfg = settings.dedup
    now = utcnow()
    found = 0
    async with sessions() as session:
        for i in range(40):
            new = Report(source="x", channel="twitter", external_id=f"new{i}",
                         text=distinct_text(i), sent_at=start)
            wanted = keys_mod.query_keys(matcher.signature(new))
            alone = await store.candidates(session, wanted, now, cfg)
            by_key = await store.newest(session, sorted(wanted), now - timedelta(days=30))
            top = store.most_shared(by_key, wanted, cfg.max_candidates)
            rows = await store.rows_by_id(session, top, now, cfg)
            batch = [rows[r] for r in top if r in rows]
            assert [tuple(r) for r in alone] == [tuple(r) for r in batch]
            assert all(r.at is not None and r.at.tzinfo is not None for r in alone)
            found += len(alone)
    assert found >= 40 * 5  # most new reports have several candidates


async def test_reads_straight_from_the_driver_bind_and_fail_as_sqlalchemy_would(
        tmp_path) -> None:
    """`repo.sqlite_rows` skips SQLAlchemy for the matcher's reads on SQLite: a
    datetime must compare in SQL exactly as SQLAlchemy would have bound it (a second
    format would silently miss or keep candidates at the window's edge), read back as
    the same aware datetime, and a driver error must still be SQLAlchemy's
    `OperationalError`, which ingest reads as "the database is away"."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stamps.db'}")
    table = Table("stamps", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UTCDateTime))
    at = datetime(2026, 3, 18, 6, 30, 0, 123456, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(table.insert(), [
                {"id": 1, "at": at - timedelta(microseconds=1)}, {"id": 2, "at": at},
                {"id": 3, "at": at + timedelta(hours=7)}])
        async with session_factory(engine)() as session:
            sql = "SELECT id, at FROM stamps WHERE at >= :since ORDER BY id"
            for since in (at, at.astimezone(timezone(timedelta(hours=7)))):
                plain = (await session.execute(
                    select(table.c.id, table.c.at).where(table.c.at >= since)
                    .order_by(table.c.id))).all()
                raw = await repo.sqlite_rows(session, sql, {"since": since})
                assert [(i, repo.sqlite_stamp(session, a)) for i, a in raw] == \
                    [tuple(r) for r in plain] == [(2, at), (3, at + timedelta(hours=7))]
            with pytest.raises(OperationalError, match="no such table"):
                await repo.sqlite_rows(session, "SELECT * FROM nowhere", {})
    finally:
        await engine.dispose()


def test_suffixed_root_is_what_sastrawi_answers() -> None:
    """`normalize._suffixed_root` stands in for Sastrawi on words with a suffix and no
    prefix. Here: roots with every suffix and pairs of them, and made-up names, as
    Sastrawi stems them (checked once on 662,395 such words, wordfreq's Indonesian and
    English lists included: no difference)."""
    rng = random.Random(7)
    roots = sorted(r for r in sastrawi_dictionary() if r.isalpha())
    suffixes = ["i", "an", "kan", "is", "isme", "isasi", "nya", "ku", "mu", "lah", "kah",
                "tah", "pun", "kannya", "annya", "kanlah", "nyalah", "kupun", "anmu", "k",
                "ikan", "kankan", ""]
    syllables = "ka ma lu te so ri pa ngu wi de bo sa ji ra nu ke to li gi ha an in".split()
    words = {r + s for r in rng.sample(roots, 300) for s in rng.sample(suffixes, 6)}
    words |= {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
              + rng.choice(suffixes) for _ in range(1500)}
    words |= {"masukkan", "saderi", "pasoli", "kanlah", "isme", "bukunya", "rumahku"}
    eligible = [w for w in sorted(words) if len(w) > 3
                and not normalize._PREFIXED_FOR_SASTRAWI.match(w)]
    assert len(eligible) > 1000
    stemmer = normalize._stemmer()
    changed = 0
    for word in eligible:
        root = normalize._suffixed_root(word)
        assert root == stemmer.stem_word(word), word
        changed += root != word
    assert changed > 300  # the roots are found, not only the words handed back
