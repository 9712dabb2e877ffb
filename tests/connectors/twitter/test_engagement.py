"""Engagement: public_metrics of ticketed tweets are refreshed and every change is a
time-stamped sample the virality detector reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from storage.models import Ticket
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import Harness, eventually


async def test_rising_metrics_are_recorded_once_per_change(
    harness: Harness, fake_x: FakeX
) -> None:
    a = fake_x.user("900000001", "warga1")
    tid = fake_x.tweet("@pemkot_test jembatan retak, warga takut lewat", a,
                       metrics={"like_count": 1})
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: conn.counts["samples"] == 1, what="the intake sample")
        fake_x.set_metrics(tid, like_count=40, retweet_count=12, impression_count=900)
        await eventually(lambda: conn.counts["samples"] == 2, what="the rise")
        fake_x.set_metrics(tid, like_count=300, retweet_count=150, quote_count=9)
        await eventually(lambda: conn.counts["samples"] == 3, what="the second rise")
        looked_up = len(fake_x.calls("lookup", 200))
        await eventually(lambda: len(fake_x.calls("lookup", 200)) >= looked_up + 3,
                         what="more refreshes")
    samples = await harness.samples()
    assert [s.metrics["like_count"] for s in samples] == [1, 40, 300]  # quiet: no rows
    assert samples[-1].metrics["retweet_count"] == 150
    assert samples[-1].metrics["quote_count"] == 9
    assert samples[0].at <= samples[1].at <= samples[2].at
    (report,) = await harness.reports()
    assert {s.report_id for s in samples} == {report.id}
    assert {s.ticket_id for s in samples} == {report.ticket_id}
    # The newest figures are on the report, where staff see them.
    assert report.meta["public_metrics"]["like_count"] == 300
    lookup = fake_x.calls("lookup", 200)[-1].query
    assert lookup["ids"] == tid and lookup["tweet.fields"] == "public_metrics"


async def test_only_open_and_recent_tweets_are_refreshed(
    harness: Harness, fake_x: FakeX
) -> None:
    a = fake_x.user("900000001", "warga1")
    old = fake_x.tweet("@pemkot_test keluhan lama", a,
                       at=datetime.now(UTC) - timedelta(hours=30))
    closed = fake_x.tweet("@pemkot_test keluhan yang sudah selesai", a)
    fresh = fake_x.tweet("@pemkot_test keluhan baru soal angkot", a)
    conn = harness.connector(backfill_hours=48, engagement={"refresh_interval": 0.1,
                                                             "max_age_hours": 24})
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 3)
        async with harness.sessions() as s, s.begin():
            tickets = {r.external_id: r.ticket_id for r in await harness.reports()}
            await s.execute(update(Ticket).where(Ticket.id == tickets[closed])
                            .values(state="closed"))
        n = len(fake_x.calls("lookup"))
        await eventually(lambda: len(fake_x.calls("lookup")) >= n + 2)
    assert fake_x.calls("lookup")[-1].query["ids"] == fresh
    assert old not in {c.query["ids"] for c in fake_x.calls("lookup")}


async def test_deleted_tweet_is_no_longer_paid_for(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    gone = fake_x.tweet("@pemkot_test nanti saya hapus", a)
    kept = fake_x.tweet("@pemkot_test trotoar dipakai parkir motor", a)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 2)
        fake_x.delete(gone)
        await eventually(lambda: any("errors" in (c.body or {}) for c in fake_x.calls("lookup")))
        n = len(fake_x.calls("lookup"))
        await eventually(lambda: len(fake_x.calls("lookup")) >= n + 1)
    assert fake_x.calls("lookup")[-1].query["ids"] == kept
    assert len(await harness.reports()) == 2  # the report stays on its ticket


async def test_engagement_respects_its_budget(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    fake_x.tweet("@pemkot_test halte rusak", a)
    conn = harness.connector(budgets={"lookup": {"per_15min": 2}})
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("lookup")) == 2)
        await eventually(lambda: conn.health()["quota"]["lookup"]["waiting_because"]
                         == "15-minute budget spent")
        polls = len(fake_x.calls("mentions"))
        await eventually(lambda: len(fake_x.calls("mentions")) >= polls + 3,
                         what="mentions go on while lookups wait")
    assert len(fake_x.calls("lookup")) == 2


async def test_older_tweets_are_refreshed_less_often(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    old = fake_x.tweet("@pemkot_test sudah sehari belum ada respons", a,
                       at=datetime.now(UTC) - timedelta(hours=20))
    new = fake_x.tweet("@pemkot_test baru saja terjadi kecelakaan", a)
    conn = harness.connector(backfill_hours=48, engagement={
        "refresh_interval": 0.1, "slowdown_hours": 0.1, "max_age_hours": 48})
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("lookup")) >= 6)
    looked = [c.query["ids"].split(",") for c in fake_x.calls("lookup")]
    assert sum(new in ids for ids in looked) >= 6
    assert sum(old in ids for ids in looked) == 1  # due again only after ~20 s


async def test_daily_read_cap_limits_what_refreshes_cost(
    harness: Harness, fake_x: FakeX
) -> None:
    a = fake_x.user("900000001", "warga1")
    first = fake_x.tweet("@pemkot_test air mati", a)
    second = fake_x.tweet("@pemkot_test listrik padam", a)
    conn = harness.connector(engagement={"refresh_interval": 0.05, "max_reads_per_day": 3})
    async with harness.running(conn):
        await eventually(lambda: conn.health()["engagement_reads_left_today"] == 0)
        polls = len(fake_x.calls("mentions"))
        await eventually(lambda: len(fake_x.calls("mentions")) >= polls + 3)
    looked = [c.query["ids"] for c in fake_x.calls("lookup")]
    assert looked == [f"{second},{first}", second]  # newest first, 3 posts in all


async def test_refresh_times_of_tweets_past_the_age_limit_are_forgotten(
    harness: Harness, fake_x: FakeX
) -> None:
    """Every tweet ever refreshed kept its last refresh time; one refreshed before
    max_age_hours was posted before too and is never refreshed again."""
    a = fake_x.user("900000001", "warga1")
    fresh = fake_x.tweet("@pemkot_test keluhan baru soal angkot", a)
    conn = harness.connector(engagement={"refresh_interval": 0.1, "max_age_hours": 24})
    async with harness.running(conn):
        await eventually(lambda: fresh in conn._refreshed, what="the fresh tweet refreshed")
        day_ago = (datetime.now(UTC) - timedelta(hours=25)).timestamp()
        conn._refreshed.update({f"old{i}": day_ago for i in range(1000)})
        await eventually(lambda: set(conn._refreshed) == {fresh}, what="old stamps gone")
        looked_up = len(fake_x.calls("lookup", 200))
        await eventually(lambda: len(fake_x.calls("lookup", 200)) > looked_up,
                         what="the fresh tweet still refreshed")
