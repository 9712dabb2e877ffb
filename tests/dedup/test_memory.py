"""The matcher's memory under a steady stream of distinct reports: its caches keep a
working set, not every report seen, and an ongoing incident still finds its ticket."""

from __future__ import annotations

from aggregator.dedup import build_matcher, keys, matcher
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from tests.connectors.email.mails import distinct_text
from tests.dedup.test_recurrence import OUTAGE, RETOLD


def report(ext: str, text: str) -> Report:
    return Report(source="x", channel="twitter", external_id=ext, text=text,
                  author=Author(handle=f"warga{ext}"))


async def test_parsed_signatures_stay_bounded_and_an_ongoing_incident_still_joins(
        sessions, settings, monkeypatch):
    monkeypatch.setattr(matcher, "PARSED_CACHE", 8)
    lsh = build_matcher(settings)
    assert lsh is not None
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=lsh))
    retold = []
    try:
        (outage,) = await ingestor.submit([report("outage", OUTAGE)])
        for i in range(60):
            await ingestor.submit([report(f"d{i}", distinct_text(i))])
            if i % 10 == 9:
                retold += await ingestor.submit([report(f"r{i}", RETOLD + f" ({i})")])
    finally:
        await ingestor.close()
    # Far more stored candidates were verified than the cache holds; every retelling
    # still joins the outage's ticket (a signature that left is parsed again).
    assert len(lsh._rows) <= 8
    assert {r.ticket_number for r in retold} == {outage.ticket_number}
    assert all(not r.created_ticket for r in retold)


def test_index_keys_cache_holds_about_two_batches():
    """Its cache key is a whole signature: a cache as large as a day of reports would
    hold a day of signatures."""
    assert keys.index_keys.cache_info().maxsize == keys.INDEX_KEYS_CACHE <= 1024


def test_word_tables_keep_a_working_set_and_numbers_stay_out():
    """Report numbers, phone numbers and amounts never repeat: cached, they would fill
    the word tables under steady load (tokens and weights are the same either way)."""
    from aggregator.dedup import normalize, weights
    from aggregator.dedup.normalize import tokenize

    for table in (weights._weight, weights.is_english, weights.is_loanword,
                  normalize._stem_cached, normalize._repair_cached):
        assert table.cache_info().maxsize == weights.WORD_CACHE <= 20_000
    tokenize("air mati")
    before = (normalize._stem_cached.cache_info().currsize,
              weights._weight.cache_info().currsize)
    tokens = tokenize(" ".join(f"nomor {n}, rp {n}000" for n in range(500_000, 500_300)))
    assert {t.stem for t in tokens} >= {"500000", "500299"}
    assert [weights.weight(t.text) for t in tokens if t.text.isdigit()][:2] == [1.0, 1.0]
    assert (normalize._stem_cached.cache_info().currsize,
            weights._weight.cache_info().currsize) == before


def test_sentence_cache_keeps_a_working_set_and_gives_the_same_tokens():
    """A burst repeats whole sentences, so they are cached by text; distinct ones pass
    through a bounded table, long ones are not kept, and a cached sentence tokenizes
    exactly as a fresh one."""
    from aggregator.dedup import normalize, similarity
    from aggregator.dedup.normalize import tokenize

    assert normalize._segment_words_cached.cache_info().maxsize == normalize.SEGMENT_CACHE
    assert similarity._words.cache_info().maxsize == similarity.TOPIC_CACHE <= 1024
    text = "Banjir setinggi lutut di Jl. Kaliurang km 5. Warga RT 03 terjebak, tolong!"
    first = tokenize(text)
    normalize._segment_words_cached.cache_clear()
    assert tokenize(text) == first == tokenize(text)
    assert normalize._segment_words_cached.cache_info().hits >= 3
    tokenize(" ".join(f"kalimat nomor {n}." for n in range(normalize.SEGMENT_CACHE + 50)))
    assert normalize._segment_words_cached.cache_info().currsize <= normalize.SEGMENT_CACHE
    long_sentence = " ".join(["jalan rusak berlubang"] * 40)
    before = normalize._segment_words_cached.cache_info().currsize
    normalize._segment_words_cached.cache_clear()
    tokenize(long_sentence)
    assert normalize._segment_words_cached.cache_info().currsize == 0 < before


async def test_replayed_reports_leave_no_signature_behind(sessions, settings):
    """A webhook retry or a mail polled again is found stored and answered as before;
    the signature prepared for it is dropped, not kept until thousands pile up."""
    lsh = build_matcher(settings)
    assert lsh is not None
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=lsh))
    try:
        first = [await ingestor.submit([report(f"p{i}", distinct_text(i))]) for i in range(5)]
        again = [await ingestor.submit([report(f"p{i}", distinct_text(i))]) for i in range(5)]
    finally:
        await ingestor.close()
    assert [r[0].report_id for r in again] == [r[0].report_id for r in first]
    assert not any(r[0].created_report for r in again)
    assert lsh._docs == {}
