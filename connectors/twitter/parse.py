"""X API v2 JSON -> `Report`s. Pure functions, no I/O: they read the documented wire
format (`data`, `includes.users`, `meta`) exactly as the API returns it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from aggregator.domain import Author, Report

CHANNEL = "twitter"

# What we ask X for. Every field costs nothing extra; each request costs money.
TWEET_FIELDS = [
    "created_at", "author_id", "conversation_id", "in_reply_to_user_id",
    "referenced_tweets", "lang", "public_metrics", "note_tweet",
]
USER_FIELDS = ["username", "name"]
EXPANSIONS = ["author_id"]
METRIC_KEYS = (
    "retweet_count", "reply_count", "like_count", "quote_count",
    "impression_count", "bookmark_count",
)


# The API is an upstream like any other: a page of the wrong shape (a proxy's error
# page, a changed field) yields fewer tweets, never a crash.


def _valid_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value > 0) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 30)


def tweets_of(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = page.get("data") if isinstance(page, Mapping) else None
    if not isinstance(data, list):
        return []
    return [t for t in data if isinstance(t, dict) and _valid_id(t.get("id"))]


def users_of(page: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    includes = page.get("includes") if isinstance(page, Mapping) else None
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {str(u["id"]): u for u in users if isinstance(u, dict) and _valid_id(u.get("id"))}


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def referenced(tweet: Mapping[str, Any], kind: str) -> str | None:
    refs = tweet.get("referenced_tweets")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("type") == kind and ref.get("id"):
            return str(ref["id"])
    return None


def is_retweet(tweet: Mapping[str, Any]) -> bool:
    """Retweets repeat someone else's post: engagement, not a new complaint. Without
    `referenced_tweets` (not requested) the classic `RT @user:` prefix tells."""
    if referenced(tweet, "retweeted"):
        return True
    return "referenced_tweets" not in tweet and str(tweet.get("text", "")).startswith("RT @")


def metrics_of(tweet: Mapping[str, Any]) -> dict[str, int] | None:
    raw = tweet.get("public_metrics")
    if not isinstance(raw, dict):
        return None
    return {k: int(raw[k]) for k in METRIC_KEYS
            if isinstance(raw.get(k), int | float) and not isinstance(raw.get(k), bool)
            and math.isfinite(raw[k]) and abs(raw[k]) < 2**62}


def reply_refs(tweet: Mapping[str, Any]) -> tuple[str, ...]:
    """Tweet ids this one answers: its conversation root, the tweet it replies to and
    the tweet it quotes. The core attaches it to whichever is already on a ticket."""
    own = str(tweet["id"])
    refs = [str(tweet.get("conversation_id") or ""), referenced(tweet, "replied_to") or "",
            referenced(tweet, "quoted") or ""]
    return tuple(dict.fromkeys(r for r in refs if r and r != own))


def tweet_text(tweet: Mapping[str, Any]) -> str:
    """The full text: long posts carry it in `note_tweet`, `text` is then cut."""
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        return note["text"]
    return str(tweet.get("text") or "")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_report(
    tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], *, source: str,
    timeline: str, ack: bool = False,
) -> Report:
    tid = str(tweet["id"])
    author_id = str(tweet["author_id"]) if _valid_id(tweet.get("author_id")) else None
    user = users.get(author_id or "", {})
    username = _text_or_none(user.get("username"))
    meta: dict[str, Any] = {
        "tweet_id": tid,
        "timeline": timeline,
        "conversation_id": str(tweet.get("conversation_id") or tid),
        "lang": tweet.get("lang"),
        "username": username,
        "url": f"https://x.com/{username or 'i/web'}/status/{tid}",
    }
    if tweet.get("in_reply_to_user_id"):
        meta["in_reply_to_user_id"] = str(tweet["in_reply_to_user_id"])
    for kind in ("replied_to", "quoted"):
        if ref := referenced(tweet, kind):
            meta[kind] = ref
    metrics = metrics_of(tweet)
    if metrics is not None:
        meta["public_metrics"] = metrics
    return Report(
        source=source,
        channel=CHANNEL,
        external_id=tid,
        text=tweet_text(tweet),
        author=Author(handle=author_id, name=_text_or_none(user.get("name")) or username),
        sent_at=parse_time(tweet.get("created_at")),
        reply_to=reply_refs(tweet),
        ack=ack,
        meta=meta,
    )


def reports_from(
    pages: Iterable[Mapping[str, Any]], *, source: str, timeline: str,
    own_account: str | None = None, ack: bool = False,
) -> tuple[list[Report], int]:
    """Reports of several pages, oldest first (so a reply follows its root within one
    batch), without retweets, our own posts or repeats. Returns (reports, dropped)."""
    found: dict[str, Report] = {}
    dropped = 0
    for page in pages:
        users = users_of(page)
        for tweet in tweets_of(page):
            tid = str(tweet["id"])
            if is_retweet(tweet) or (own_account and str(tweet.get("author_id")) == own_account):
                dropped += 1
                continue
            if tid not in found:
                found[tid] = to_report(tweet, users, source=source, timeline=timeline, ack=ack)
    reports = sorted(found.values(), key=lambda r: _id_key(r.external_id))
    return reports, dropped


def _id_key(tid: str) -> tuple[int, str]:
    return (len(tid), tid)  # snowflake ids grow with time; compare as numbers


def newer(a: str | None, b: str | None) -> str | None:
    """The larger of two tweet ids (either may be missing)."""
    if not a or not b:
        return a or b
    return a if _id_key(a) >= _id_key(b) else b
