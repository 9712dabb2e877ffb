"""The pure parts: X's JSON -> reports, public post text, config checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.config import ConfigError, parse
from connectors.twitter.compose import public_notice, public_reply, redact, weighted_length
from connectors.twitter.parse import is_retweet, reply_refs, reports_from, to_report
from connectors.twitter.quota import Gate
from connectors.twitter.settings import TwitterSettings
from connectors.twitter.timeline import SEARCH_REACH, Timeline, TimelineCursor
from tests.connectors.twitter.harness import shared_file


def cassette(name: str) -> dict[str, Any]:
    return json.loads(shared_file(f"x-tweepy-cassettes/{name}").read_text())["body"]


def test_recorded_search_page_drops_retweets() -> None:
    """tweepy's recorded search answer (no tweet.fields asked) still parses; the
    classic `RT @` prefix marks retweets when referenced_tweets is absent."""
    page = cassette("test_client_search_recent_tweets_0.json")
    reports, dropped = reports_from([page], source="x", timeline="search")
    assert dropped == 0 and len(reports) == 10  # its RTs are in the async one
    page = cassette("test_asyncclient_search_recent_tweets_0.json")
    reports, dropped = reports_from([page], source="x", timeline="search")
    assert dropped == 3 and len(reports) == 7
    assert all(not r.text.startswith("RT @") for r in reports)
    ids = [int(r.external_id) for r in reports]
    assert ids == sorted(ids)  # oldest first: a root is stored before its replies
    assert reports[0].author.handle is None and reports[0].sent_at is None


def test_docs_example_maps_every_field() -> None:
    doc = json.loads(shared_file("x-docs-mentions-example.json").read_text())
    (report,), _ = reports_from([doc], source="x", timeline="mentions", ack=True)
    assert report.author.handle == "1234567890" and report.author.name == "Dev Person"
    assert report.sent_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert report.meta["url"] == "https://x.com/developer/status/1301573587187331074"
    assert report.ack and report.reply_to == () and report.channel == "twitter"


def test_reply_refs_and_long_posts() -> None:
    tweet = {"id": "30", "text": "cut…", "conversation_id": "10",
             "referenced_tweets": [{"type": "replied_to", "id": "20"},
                                   {"type": "quoted", "id": "5"}],
             "note_tweet": {"text": "the whole long complaint " * 20}}
    assert reply_refs(tweet) == ("10", "20", "5")
    assert reply_refs({"id": "10", "conversation_id": "10"}) == ()
    report = to_report(tweet, {}, source="x", timeline="mentions")
    assert report.text.startswith("the whole long complaint")
    assert report.meta["replied_to"] == "20" and report.meta["quoted"] == "5"
    assert is_retweet({"id": "1", "text": "x", "referenced_tweets": [
        {"type": "retweeted", "id": "2"}]})
    assert not is_retweet({"id": "1", "text": "RT @a: quoted", "referenced_tweets": [
        {"type": "quoted", "id": "2"}]})


def test_own_posts_are_not_reports() -> None:
    page = {"data": [{"id": "11", "text": "@warga Tiket ADU-1", "author_id": "7"},
                     {"id": "12", "text": "@pemkot tolong", "author_id": "8"}]}
    reports, dropped = reports_from([page], source="x", timeline="search", own_account="7")
    assert [r.external_id for r in reports] == ["12"] and dropped == 1


def test_weighted_length_follows_x_rules() -> None:
    assert weighted_length("halo") == 4
    assert weighted_length("lihat https://example.com/" + "a" * 100) == 6 + 23
    assert weighted_length("日本") == 4  # CJK weighs 2
    assert weighted_length("é") == 1  # NFC: one character


def test_redact_and_fit() -> None:
    assert redact("mail a.b@x.go.id or +62 812-3456-7890, NIK 3174012345678901") == (
        "mail [disembunyikan] or [disembunyikan], NIK [disembunyikan]")
    assert redact("Tiket ADU-2026-000042 jam 10.30") == "Tiket ADU-2026-000042 jam 10.30"
    out = public_reply("{text}\n\nTiket {ticket_number}", "日本語 " * 200,
                       ticket_number="ADU-2026-000001", private_channel="DM")
    assert weighted_length(out) <= 280 and out.endswith("Tiket ADU-2026-000001")
    notice = public_notice("{ticket_number} " + "x" * 400, ticket_number="ADU-1",
                           private_channel="DM")
    assert weighted_length(notice) == 280 and notice.startswith("ADU-1")


def base(**extra: Any) -> dict[str, Any]:
    return {"connectors": {"x": {"type": "twitter", "bearer_token": "${X_BEARER}",
                                 "username": "@pemkot", **extra}}}


def test_config_reads_secrets_from_env(tmp_path: Path) -> None:
    settings = parse(base(query="#banjir"), base_dir=tmp_path, env={"X_BEARER": "sekret"})
    x = settings.connectors["x"]
    assert isinstance(x, TwitterSettings)
    assert x.bearer_token.get_secret_value() == "sekret" and "sekret" not in repr(x)
    assert x.username == "pemkot" and x.search_query() == "(#banjir) -is:retweet"
    assert x.budgets["mentions"].per_15min == 10 and not x.reply_publicly


@pytest.mark.parametrize(("extra", "problem"), [
    ({"public_ack_template": "Halo {name}, tiket {ticket_number}"},
     "connectors.x.public_ack_template: unknown placeholder(s) ['name']"),
    ({"public_reply_template": "{text}"}, "must contain {ticket_number}"),
    ({"reply_publicly": True}, "reply_publicly needs user_auth"),
    ({"budgets": {"mentions": {"per_hour": 3}}}, "connectors.x.budgets.mentions.per_hour"),
    ({"budgets": {"timeline": {}}}, "connectors.x.budgets.timeline"),
    ({"mentions": False}, "nothing to poll"),
    ({"api_base_url": "ftp://x"}, "connectors.x.api_base_url"),
    ({"public_status_states": ["selesai"]}, "connectors.x.public_status_states.0"),
])
def test_bad_config_names_the_key(tmp_path: Path, extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(base(**extra), base_dir=tmp_path, env={"X_BEARER": "b"})
    assert problem in str(err.value)


def test_missing_bearer_env_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="connectors.x.bearer_token: environment variable "
                                          "X_BEARER is not set"):
        parse(base(), base_dir=tmp_path, env={})


async def test_search_since_id_beyond_reach_becomes_start_time() -> None:
    """Recent search refuses ids older than 7 days; the walk asks by time instead."""
    asked: list[tuple[Any, ...]] = []

    async def fetch(*args: Any) -> dict[str, Any]:
        asked.append(args)
        return {"meta": {"result_count": 0}}

    now = datetime.now(UTC)
    old_id = str((int((now - timedelta(days=9)).timestamp() * 1000) - 1288834974657) << 22)
    tl = Timeline("search", "search", fetch, max_pages=2, backfill=timedelta(hours=1),
                  reach=SEARCH_REACH)
    settings = TwitterSettings(type="twitter", bearer_token="b", query="q")
    walk = await tl.walk(Gate(settings), TimelineCursor(since_id=old_id), now)
    (since, until, start, token), = asked
    assert since is None and until is None and token is None
    assert start == now - SEARCH_REACH
    assert walk.complete and walk.cursor.since_id == old_id  # kept until something newer
