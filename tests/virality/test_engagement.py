"""A ticket whose tweet is being shared goes viral on engagement alone: two reports
stored through the real ingest, engagement samples written through the connector port
(as the X connector writes them), and the real watch round on the database deciding
at simulated times. Steady small growth stays quiet, a jump decays on ticks alone, and
a row saved before the engagement stream existed keeps its report detector. Last, the
same through the real X connector sampling a (fake) X API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from aggregator.config import parse
from aggregator.domain import Author, Report
from aggregator.escalation.feature import build_policy
from aggregator.escalation.runner import run_round as escalate
from aggregator.intake.ingest import Ingestor
from aggregator.intake.observations import SignalSample, record_signals
from aggregator.intake.pipeline import Pipeline
from aggregator.runtime.features import FeatureContext
from aggregator.virality.detector import BurstDetector, DetectorSettings
from aggregator.virality.feature import ViralityFeature
from aggregator.virality.watch import run_round
from storage.models import Ticket, TicketEvent, Virality
from storage.types import utcnow
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import Harness, eventually

STEP = timedelta(minutes=5)
Counters = dict[str, int]


async def two_reports(sessions, settings) -> tuple[int, int]:
    """A complaint tweet and a reply to it: one ticket; returns (ticket id, tweet id)."""
    ing = Ingestor(sessions, Pipeline(settings))
    (first,) = await ing.submit([Report(
        source="x", channel="twitter", external_id="1800000000000000001",
        text="@pemkot Sudah 3 hari sampah tidak diangkut di Jl. Melati RW 05, bau sekali",
        author=Author(handle="111", name="Warga Melati"))])
    (second,) = await ing.submit([Report(
        source="x", channel="twitter", external_id="1800000000000000002",
        text="@pemkot betul, di RW 05 juga sama", reply_to=("1800000000000000001",),
        author=Author(handle="222", name="Tetangga"))])
    await ing.close()
    assert second.ticket_id == first.ticket_id
    return first.ticket_id, first.report_id


async def simulate(sessions, ticket_id: int, post: int, start: datetime, steps: int,
                   counters: Callable[[int], Counters | None]) -> list[int]:
    """Every 5 minutes: a sample (when `counters` gives one), then a watch round."""
    levels = []
    for i in range(steps):
        now = start + i * STEP
        metrics = counters(i)
        async with sessions() as s, s.begin():
            if metrics is not None:
                await record_signals(s, [SignalSample(post, ticket_id, now, metrics)])
            await run_round(s, DetectorSettings(), now=now)
        async with sessions() as s:
            levels.append((await s.get(Virality, ticket_id)).level)
    return levels


def viral(i: int) -> Counters:
    """A quiet tweet, then from the 4th sample on thousands of retweets within an hour."""
    k = max(0, i - 3)
    return {"retweet_count": 4 + 250 * k, "quote_count": 1 + 20 * k,
            "reply_count": 2 + 30 * k, "like_count": 10 + 600 * k,
            "impression_count": 300 + 40000 * k}


async def test_a_jump_in_retweets_makes_a_two_report_ticket_viral_and_it_decays(
        sessions, settings, db_url, tmp_path):
    ticket_id, post = await two_reports(sessions, settings)
    start = utcnow()
    levels = await simulate(sessions, ticket_id, post, start, 16, viral)
    assert levels[:3] == [0, 0, 0] and max(levels) >= 1
    async with sessions() as s:
        row = await s.get(Virality, ticket_id)
        events = (await s.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.type == "virality_changed")
        )).scalars().all()
        ticket = await s.get(Ticket, ticket_id)
        ctx = FeatureContext(settings, sessions, sessions, lambda: None)
        section = await ViralityFeature(ctx).sections()["virality"](s, ticket)
    assert row.evidence["stream"] == "engagement" and row.evidence["reports_level"] == 0
    assert row.evidence["engagement"]["retweet_count"] >= 2500
    assert row.evidence["engagement_stream"]["counts"]["60m"] >= 2500
    assert events[0].data["stream"] == "engagement" and events[0].data["to"] >= 1
    assert section["level"] >= 1 and section["stream"] == "engagement"

    # The escalation policy says why in words: the shares, not the reports.
    policy = build_policy(parse({"database": {"url": db_url}, "escalation": {
        "enabled": True, "levels": [{"name": "piket", "when": [{"virality_level": 1}]}]}},
        base_dir=tmp_path, env={}))
    async with sessions() as s, s.begin():
        assert await escalate(s, policy, now=start + 15 * STEP) == 1
    async with sessions() as s:
        (escalated,) = (await s.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.type == "escalated")
        )).scalars().all()
    assert escalated.data["reasons"] == [
        f"going viral on social media: shares and replies (level {row.level})"]

    # No more samples: the level falls on the watch's ticks alone.
    later = start + 16 * STEP
    after = await simulate(sessions, ticket_id, post, later, 12 * 8, lambda i: None)
    assert after[-1] == 0
    assert all(b <= a for a, b in zip(after, after[1:], strict=False))
    async with sessions() as s:
        row = await s.get(Virality, ticket_id)
    assert row.level == 0 and row.score == 0.0 and row.peak_level >= 1


async def test_steady_small_engagement_growth_stays_at_level_zero(sessions, settings):
    ticket_id, post = await two_reports(sessions, settings)

    def steady(i: int) -> Counters | None:
        if i % 2:  # a sample every 10 minutes
            return None
        k = i // 2
        return {"retweet_count": 2 * k, "quote_count": k // 3, "reply_count": k,
                "like_count": 8 * k + (k % 3), "impression_count": 1000 * k}

    levels = await simulate(sessions, ticket_id, post, utcnow(), 12 * 12, steady)
    assert set(levels) == {0}
    async with sessions() as s:
        row = await s.get(Virality, ticket_id)
    assert row.evidence["engagement"]["retweet_count"] >= 140  # it did grow all along
    assert row.evidence["engagement_stream"]["counts"]["360m"] > 100


async def test_a_row_saved_before_the_engagement_stream_keeps_its_report_detector(
        sessions, settings):
    ticket_id, post = await two_reports(sessions, settings)
    start = utcnow()
    older = BurstDetector()
    for m in range(3):
        older.arrival(start - timedelta(minutes=30 - m))
    older.tick(start)
    async with sessions() as s, s.begin():
        s.add(Virality(ticket_id=ticket_id, level=0, peak_level=0, score=0.0,
                       state=older.to_state(), evidence={}, last_report_id=10**9,
                       updated_at=start))
    levels = await simulate(sessions, ticket_id, post, start, 16, viral)
    assert max(levels) >= 1
    async with sessions() as s:
        row = await s.get(Virality, ticket_id)
    assert set(row.state) == {"reports", "engagement"}
    assert sum(row.state["reports"]["ring"]) == 3  # the three reports it had counted
    assert row.evidence["stream"] == "engagement"


async def test_a_tweet_shared_by_thousands_through_the_real_x_connector(
        harness: Harness, fake_x: FakeX, sessions):
    """The X connector samples the tweet's counters from the (fake) X API; the watch
    round reads the samples it stored."""
    a, b = fake_x.user("900000001", "warga1"), fake_x.user("900000002", "warga2")
    root = fake_x.tweet("@pemkot_test underpass Kemayoran banjir, mobil terjebak", a,
                        metrics={"retweet_count": 2, "like_count": 5})
    fake_x.tweet("@pemkot_test iya, sudah sepinggang airnya", b, reply_to=root)

    async def verdict() -> Virality:
        async with sessions() as s, s.begin():
            await run_round(s, DetectorSettings())
        async with sessions() as s:
            (ticket_id,) = {r.ticket_id for r in await harness.reports()}
            return await s.get(Virality, ticket_id)

    conn = harness.connector(engagement={"refresh_interval": 0.1})
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 2 and conn.counts["samples"] >= 1,
                         what="the two reports and their first samples")
        assert (await verdict()).level == 0
        fake_x.set_metrics(root, retweet_count=3000, quote_count=150, reply_count=400,
                           like_count=8000, impression_count=900000)

        async def shared() -> bool:
            return any(s.metrics.get("retweet_count") == 3000 for s in await harness.samples())

        await eventually(shared, what="the jump sampled")
    row = await verdict()
    assert row.level >= 1 and row.evidence["stream"] == "engagement"
    assert row.evidence["engagement"]["retweet_count"] == 3000
