"""Mentions and search become tickets: once each, resumably, without retweets, with
conversations grouped."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import Harness, eventually, shared_file


def citizen(fake: FakeX, n: int = 1) -> str:
    return fake.user(f"90000000{n}", f"warga{n}", f"Warga {n}")


async def test_mentions_become_tickets_once(harness: Harness, fake_x: FakeX) -> None:
    a, b = citizen(fake_x, 1), citizen(fake_x, 2)
    t1 = fake_x.tweet("@pemkot_test jalan di Jl. Merdeka berlubang besar, bahaya!", a,
                      metrics={"like_count": 3})
    t2 = fake_x.tweet("@pemkot_test lampu PJU mati di RT 05 sudah seminggu", b)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("mentions", 200)) >= 3, what="3 polls")
    reports = await harness.reports()
    assert [r.external_id for r in reports] == [t1, t2]
    assert await harness.ticket_count() == 2
    first = reports[0]
    assert first.channel == "twitter" and first.source == "x"
    assert first.text.startswith("@pemkot_test jalan di Jl. Merdeka")
    assert first.meta["username"] == "warga1" and first.meta["lang"] == "in"
    assert first.meta["public_metrics"]["like_count"] == 3
    assert first.sent_at is not None
    # The polls after the first asked only for newer tweets.
    later = fake_x.calls("mentions", 200)[1:]
    assert all(c.query.get("since_id") == t2 for c in later)
    # The first poll asked for the fields the connector needs, and the author.
    q = fake_x.calls("mentions")[0].query
    assert {"created_at", "conversation_id", "public_metrics", "lang"} <= set(
        q["tweet.fields"].split(","))
    assert q["expansions"] == "author_id"
    assert "start_time" in q  # first run looks back backfill_hours, not forever


async def test_since_id_resumes_after_restart(harness: Harness, fake_x: FakeX) -> None:
    a = citizen(fake_x)
    t1 = fake_x.tweet("@pemkot_test sampah menumpuk di pasar", a)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("mentions", 200)) >= 1)
        await eventually(lambda: conn.counts["reports"] == 1)
    t2 = fake_x.tweet("@pemkot_test air PDAM keruh sejak kemarin", a)
    again = harness.connector()  # a new process: only the database remembers
    async with harness.running(again):
        await eventually(lambda: again.counts["reports"] == 1, what="the new mention")
        await eventually(lambda: fake_x.calls("mentions")[-1].query.get("since_id") == t2,
                         what="since_id moved on")
    resumed = [c for c in fake_x.calls("mentions") if c.query.get("since_id") == t1]
    assert resumed, "the restarted connector resumed from the stored since_id"
    assert [r.external_id for r in await harness.reports()] == [t1, t2]


async def test_a_connector_stopped_and_run_again_polls_again(harness: Harness,
                                                              fake_x: FakeX) -> None:
    """The supervisor restarts the same instance: after a lease heartbeat failed (the
    database locked) stop() ended the run, and the next run must poll again."""
    a = citizen(fake_x)
    t1 = fake_x.tweet("@pemkot_test sampah menumpuk di pasar", a)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 1)
    t2 = fake_x.tweet("@pemkot_test air PDAM keruh sejak kemarin", a)
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 2, what="the mention after")
    assert [r.external_id for r in await harness.reports()] == [t1, t2]


async def test_retweets_are_not_tickets(harness: Harness, fake_x: FakeX) -> None:
    a, b = citizen(fake_x, 1), citizen(fake_x, 2)
    root = fake_x.tweet("@pemkot_test banjir di underpass, mobil terjebak", a)
    fake_x.tweet("", b, retweet_of=root)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: conn.counts["dropped"] == 1, what="the retweet dropped")
    assert [r.external_id for r in await harness.reports()] == [root]
    assert await harness.ticket_count() == 1


async def test_reply_and_quote_in_conversation_attach(harness: Harness, fake_x: FakeX) -> None:
    a, b, c = citizen(fake_x, 1), citizen(fake_x, 2), citizen(fake_x, 3)
    root = fake_x.tweet("@pemkot_test pohon tumbang menutup Jl. Sudirman", a)
    conn = harness.connector()
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 1)
        # Later, in the same conversation: a reply to a reply (no @mention needed:
        # X puts it in our mentions as a reply to the thread), and a quote.
        r1 = fake_x.tweet("@warga1 @pemkot_test betul, sudah 3 jam belum diangkat", b,
                          reply_to=root)
        r2 = fake_x.tweet("@warga2 @pemkot_test tolong segera!!", c, reply_to=r1)
        q = fake_x.tweet("@pemkot_test ini parah, lihat", b, quote=root)
        other = fake_x.tweet("@pemkot_test parkir liar di depan sekolah", c)
        await eventually(lambda: conn.counts["reports"] == 5, what="all five")
    reports = {r.external_id: r for r in await harness.reports()}
    ticket = reports[root].ticket_id
    assert {reports[x].ticket_id for x in (r1, r2, q)} == {ticket}
    assert {reports[x].match_reason for x in (r1, r2, q)} == {"reply"}
    assert reports[other].ticket_id != ticket
    assert await harness.ticket_count() == 2


async def test_search_pages_with_next_token(harness: Harness, fake_x: FakeX) -> None:
    a = citizen(fake_x)
    ids = [fake_x.tweet(f"#JalanRusak di km {i} Kab. Contoh", a) for i in range(25)]
    fake_x.tweet("tidak relevan", a)
    conn = harness.connector(account_id=None, query="#JalanRusak", max_results=10)
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 25, what="25 search results")
    calls = fake_x.calls("search", 200)
    assert calls[0].query["query"] == "(#JalanRusak) -is:retweet"
    assert [c.query.get("next_token") for c in calls[:3]] == [None, "7140diba", "7140dib14"]
    assert sorted(r.external_id for r in await harness.reports()) == sorted(ids)
    assert not fake_x.calls("mentions")


async def test_walk_cut_by_budget_goes_on_later(harness: Harness, fake_x: FakeX) -> None:
    a = citizen(fake_x)
    ids = [fake_x.tweet(f"@pemkot_test keluhan nomor {i}", a) for i in range(12)]
    conn = harness.connector(max_results=5, budgets={"mentions": {"per_15min": 2}})
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 10, what="two pages")
        await eventually(lambda: "mentions" in conn.health()["quota"]
                         and conn.health()["quota"]["mentions"]["budget_15min_left"] == 0)
    assert len(fake_x.calls("mentions")) == 2  # the budget held
    cur = conn.cursor["mentions"]
    assert cur["until_id"] == ids[2] and cur["newest_id"] == ids[-1] and "since_id" not in cur
    # A restart with budget again fetches only what is missing, then moves since_id.
    again = harness.connector(max_results=5)
    async with harness.running(again):
        await eventually(lambda: again.counts["reports"] == 2, what="the rest")
        await eventually(lambda: again.cursor["mentions"].get("since_id") == ids[-1])
    assert fake_x.calls("mentions")[2].query["until_id"] == ids[2]
    assert sorted(r.external_id for r in await harness.reports()) == sorted(ids)


async def test_docs_example_response_is_ingested(harness: Harness, fake_x: FakeX) -> None:
    """The X docs' own mentions example, served as-is, becomes one report."""
    doc = json.loads(shared_file("x-docs-mentions-example.json").read_text())
    tweet, user = doc["data"][0], doc["includes"]["users"][0]
    fake_x.account.update(username="XDevelopers")
    fake_x.users[fake_x.account["id"]]["username"] = "XDevelopers"
    fake_x.add_raw(tweet, user)
    conn = harness.connector(backfill_hours=24 * 365 * 5)  # the example is old
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 1)
    (report,) = await harness.reports()
    assert report.external_id == "1301573587187331074"
    assert report.text == "Hey @XDevelopers, love the new API!"
    assert report.meta["username"] == "developer"
    assert report.meta["public_metrics"] == {"retweet_count": 5, "reply_count": 2,
                                             "like_count": 42, "quote_count": 1}
    samples = await harness.samples()
    assert [s.metrics["like_count"] for s in samples] == [42]


async def test_reply_fetched_before_its_root_still_joins(harness: Harness,
                                                         fake_x: FakeX) -> None:
    """A backlog comes newest first: when a walk is cut, a reply whose root is still
    unfetched is held in the cursor (surviving a restart) and follows its root."""
    a, b = citizen(fake_x, 1), citizen(fake_x, 2)
    root = fake_x.tweet("@pemkot_test terminal bus gelap, rawan copet", a)
    filler = [fake_x.tweet(f"@pemkot_test keluhan lain {i}", b) for i in range(8)]
    reply = fake_x.tweet("@warga1 @pemkot_test betul, saya kecopetan kemarin", b,
                         reply_to=root)
    conn = harness.connector(max_results=5, budgets={"mentions": {"per_15min": 1}})
    async with harness.running(conn):
        await eventually(lambda: conn.counts["reports"] == 4, what="the first page")
    assert conn.cursor["held"]["mentions"]["data"][0]["id"] == reply
    again = harness.connector(max_results=5)
    async with harness.running(again):
        await eventually(lambda: again.counts["reports"] == 6, what="the rest")
        await eventually(lambda: not again.cursor.get("held"))
    reports = {r.external_id: r for r in await harness.reports()}
    assert set(reports) == {root, reply, *filler}
    assert reports[reply].ticket_id == reports[root].ticket_id
    assert reports[reply].match_reason == "reply"
    assert await harness.ticket_count() == 9


async def test_unknown_account_is_a_clear_crash(harness: Harness) -> None:
    """run() raises (the supervisor restarts it with backoff and shows the error)."""
    conn = harness.connector(account_id=None, username="tidak_ada")
    with pytest.raises(LookupError, match="X has no account @tidak_ada"):
        await asyncio.wait_for(conn.run(), 5)
    await conn.stop()
