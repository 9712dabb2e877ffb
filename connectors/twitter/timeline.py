"""One polled timeline (the mentions of our account, or a recent-search query) and
its resume point.

X returns a timeline newest first, in pages. The cursor says how far we are:
`since_id` = everything up to this id is stored. A walk fetches pages until X has no
`next_token` (or `max_pages`, or the budget, stops it); an unfinished walk is saved as
`until_id` (continue below the oldest id seen) plus `newest_id`, so the next poll goes on
where this one stopped and nothing is fetched, paid for or ticketed twice. The cursor is
stored in the same transaction as the walk's reports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.twitter.parse import newer, reply_refs, tweets_of, users_of
from connectors.twitter.quota import Gate, NotNow

# Replies held back for their roots; beyond this many they go in anyway.
MAX_HELD = 2000
# Recent search only reaches this far back (and refuses older since_id/start_time).
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)
TWITTER_EPOCH_MS = 1288834974657

# (since_id, until_id, start_time, page token) -> one page of the documented JSON
PageFetcher = Callable[[str | None, str | None, datetime | None, str | None],
                       Awaitable[dict[str, Any]]]


@dataclass
class TimelineCursor:
    since_id: str | None = None
    newest_id: str | None = None  # newest id of an unfinished walk
    until_id: str | None = None  # an unfinished walk goes on below this id
    start_time: str | None = None  # first run: how far back to look (ISO)

    @classmethod
    def load(cls, raw: Any) -> TimelineCursor:
        if not isinstance(raw, dict):
            return cls()
        return cls(**{k: (str(v) if v is not None else None) for k, v in raw.items()
                      if k in cls.__dataclass_fields__})

    def dump(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Walk:
    pages: list[dict[str, Any]] = field(default_factory=list)
    cursor: TimelineCursor = field(default_factory=TimelineCursor)
    complete: bool = False
    stopped: NotNow | None = None  # why the walk stopped early, if it did


def tweet_time(tweet_id: str) -> datetime:
    """When a snowflake id was made (X ids carry their creation time)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


class Timeline:
    def __init__(self, name: str, endpoint: str, fetch: PageFetcher, *, max_pages: int,
                 backfill: timedelta, reach: timedelta | None = None):
        self.name = name  # cursor key and report meta: "mentions" | "search"
        self.endpoint = endpoint  # budget key
        self.fetch = fetch
        self.max_pages = max_pages
        self.backfill = backfill
        self.reach = reach

    def _bounds(
        self, cur: TimelineCursor, now: datetime
    ) -> tuple[str | None, datetime | None]:
        """since_id, or a start_time when there is none (or X would refuse it)."""
        if cur.since_id:
            if self.reach is None or tweet_time(cur.since_id) >= now - self.reach:
                return cur.since_id, None
            return None, now - self.reach  # too old for X: take all it still has
        start = datetime.fromisoformat(cur.start_time) if cur.start_time else now
        if self.reach is not None:
            start = max(start, now - self.reach)
        return None, start

    async def walk(self, gate: Gate, cursor: TimelineCursor, now: datetime) -> Walk:
        cur = TimelineCursor(**asdict(cursor))
        if cur.since_id is None and cur.start_time is None:
            cur.start_time = (now - self.backfill).isoformat(timespec="seconds")
        since, start = self._bounds(cur, now)
        walk = Walk(cursor=cur)
        newest, oldest, token = cur.newest_id, None, None
        for _ in range(self.max_pages):
            try:
                page = await gate.call(
                    self.endpoint,
                    lambda t=token: self.fetch(since, cur.until_id, start, t),
                )
            except NotNow as exc:
                walk.stopped = exc
                break
            walk.pages.append(page)
            meta = page.get("meta") or {}
            newest = newer(newest, _str(meta.get("newest_id")))
            oldest = _str(meta.get("oldest_id")) or oldest
            token = _str(meta.get("next_token"))
            if not token:
                walk.complete = True
                break
        if walk.complete:
            walk.cursor = TimelineCursor(since_id=newer(cur.since_id, newest),
                                         start_time=cur.start_time)
        elif walk.pages:  # go on below the oldest id seen, next time
            walk.cursor = TimelineCursor(since_id=cur.since_id, newest_id=newest,
                                         until_id=oldest or cur.until_id,
                                         start_time=cur.start_time)
        return walk


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def hold_back(
    pages: list[dict[str, Any]], since_id: str | None, floor: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Split an unfinished walk into what can be ingested now and replies to hold.

    A walk goes newest to oldest, so a reply may arrive before the root it answers,
    which still sits in the unfetched part (ids between `since_id` and `floor`).
    Ingested now, the reply would open a ticket of its own; held (in the cursor) until
    the walk completes, it follows its root. Returns (ready pages, held page or None).
    """
    if floor is None:
        return pages, None
    low = int(since_id) if since_id else 0
    high = int(floor)
    ready: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    users: dict[str, dict[str, Any]] = {}
    for page in pages:
        keep = []
        for tweet in tweets_of(page):
            if any(low < int(ref) < high for ref in reply_refs(tweet) if ref.isdigit()):
                held.append(tweet)
            else:
                keep.append(tweet)
        users.update(users_of(page))
        ready.append({**page, "data": keep})
    if not held or len(held) > MAX_HELD:
        return pages, None
    wanted = {str(t.get("author_id")) for t in held}
    return ready, {"data": held, "includes": {
        "users": [u for uid, u in users.items() if uid in wanted]}}
