"""A small local X API v2 server for tests: the real tweepy client talks to it.

It speaks the documented JSON of the endpoints the connector uses (shapes checked
against X's docs example and tweepy's recorded cassettes in shared/data/api):
  GET  /2/users/:id/mentions       since_id, until_id, start_time, max_results,
                                   pagination_token, expansions, tweet.fields, user.fields
  GET  /2/tweets/search/recent     query, the same paging with next_token
  GET  /2/tweets?ids=              lookup (public_metrics), `errors` for missing ids
  GET  /2/users/by/username/:name  user lookup
  POST /2/tweets                   create (OAuth 1.0a user context only, as on X)
Ids are snowflakes (they carry their creation time) and are strings on the wire;
`meta.newest_id` too. Tweets carry only the fields that were asked for (id, text and
edit_history_tweet_ids always). Every answer has x-rate-limit-* headers; `fail()`
queues 429/5xx answers. Search matching is simplified: a tweet matches when any
positive term occurs in its text (case-insensitive) and no `-term` does;
`-is:retweet` drops retweets.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

TWITTER_EPOCH_MS = 1288834974657
WINDOW = 15 * 60
LIMITS = {"mentions": 450, "search": 450, "lookup": 900, "users": 900, "create": 200}


@dataclass
class Seen:
    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    at: float
    status: int
    body: Any = None


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # dict -> JSON, str -> text/html


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": type_, "status": status}


class FakeX:
    def __init__(self, *, bearer: str = "test-bearer", account_id: str = "1500000001",
                 username: str = "pemkot_test"):
        self.bearer = bearer
        self.account = {"id": account_id, "username": username, "name": "Pemkot Test"}
        self.users: dict[str, dict[str, Any]] = {account_id: dict(self.account)}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.seen: list[Seen] = []
        self.posted: list[dict[str, Any]] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._seq = itertools.count()
        self._windows: dict[str, tuple[int, int]] = {}  # endpoint -> (reset, used)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ state

    def user(self, uid: str, username: str, name: str | None = None) -> str:
        self.users[uid] = {"id": uid, "username": username, "name": name or username}
        return uid

    def _new_id(self, at: datetime) -> str:
        ms = int(at.timestamp() * 1000)
        return str(((ms - TWITTER_EPOCH_MS) << 22) | (next(self._seq) & 0x3FFFFF))

    def tweet(self, text: str, author: str, *, reply_to: str | None = None,
              quote: str | None = None, retweet_of: str | None = None,
              metrics: dict[str, int] | None = None, lang: str = "in",
              at: datetime | None = None) -> str:
        at = at or datetime.now(UTC)
        tid = self._new_id(at)
        refs = []
        conversation = tid
        in_reply_to_user = None
        if reply_to:
            parent = self.tweets[reply_to]
            refs.append({"type": "replied_to", "id": reply_to})
            conversation = parent["conversation_id"]
            in_reply_to_user = parent["author_id"]
        if quote:
            refs.append({"type": "quoted", "id": quote})
        if retweet_of:
            orig = self.tweets[retweet_of]
            refs.append({"type": "retweeted", "id": retweet_of})
            text = f"RT @{self.users[orig['author_id']]['username']}: {orig['text']}"[:140]
        obj: dict[str, Any] = {
            "id": tid, "text": text, "edit_history_tweet_ids": [tid], "author_id": author,
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "conversation_id": conversation, "lang": lang,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                               "quote_count": 0, "bookmark_count": 0, "impression_count": 0,
                               **(metrics or {})},
        }
        if refs:
            obj["referenced_tweets"] = refs
        if in_reply_to_user:
            obj["in_reply_to_user_id"] = in_reply_to_user
        self.tweets[tid] = obj
        return tid

    def add_raw(self, tweet: dict[str, Any], user: dict[str, Any] | None = None) -> str:
        """Serve a tweet exactly as given (from the docs example or a cassette)."""
        t = dict(tweet)
        t.setdefault("edit_history_tweet_ids", [t["id"]])
        self.tweets[str(t["id"])] = t
        if user:
            self.users[str(user["id"])] = dict(user)
        return str(t["id"])

    def set_metrics(self, tid: str, **metrics: int) -> None:
        self.tweets[tid]["public_metrics"].update(metrics)

    def delete(self, tid: str) -> None:
        self.tweets.pop(tid)

    def fail(self, endpoint: str, status: int, times: int = 1, *,
             headers: dict[str, str] | None = None, body: Any = None) -> None:
        if body is None:
            title = {429: "Too Many Requests", 503: "Service Unavailable"}.get(
                status, "Internal Server Error")
            body = problem(status, title, title)
        for _ in range(times):
            self.faults.setdefault(endpoint, deque()).append(Fault(status, headers or {}, body))

    def calls(self, endpoint: str, status: int | None = None) -> list[Seen]:
        return [s for s in self.seen
                if s.endpoint == endpoint and (status is None or s.status == status)]

    # ------------------------------------------------------------------ server

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/tweets/search/recent", self._search)
        app.router.add_get("/2/tweets", self._lookup)
        app.router.add_post("/2/tweets", self._create)
        app.router.add_get("/2/users/by/username/{username}", self._user_by_name)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _answer(self, request: web.Request, endpoint: str, status: int, body: Any,
                headers: dict[str, str] | None = None) -> web.Response:
        now = int(time.time())
        reset, used = self._windows.get(endpoint, (now + WINDOW, 0))
        if reset <= now:
            reset, used = now + WINDOW, 0
        used += 1
        self._windows[endpoint] = (reset, used)
        h = {"x-rate-limit-limit": str(LIMITS[endpoint]),
             "x-rate-limit-remaining": str(max(0, LIMITS[endpoint] - used)),
             "x-rate-limit-reset": str(reset), **(headers or {})}
        self.seen.append(Seen(endpoint, request.method, request.path, dict(request.query),
                              time.time(), status, body))
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html", headers=h)
        return web.json_response(body, status=status, headers=h)

    def _gate(self, request: web.Request, endpoint: str,
              user_context: bool = False) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if user_context:
            if not auth.startswith("OAuth "):
                return self._answer(request, endpoint, 403, problem(
                    403, "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User Context,"
                    " OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication"))
        elif auth != f"Bearer {self.bearer}":
            return self._answer(request, endpoint, 401,
                                problem(401, "Unauthorized", "Unauthorized"))
        if self.faults.get(endpoint):
            f = self.faults[endpoint].popleft()
            return self._answer(request, endpoint, f.status, f.body, f.headers)
        return None

    # ------------------------------------------------------------------ shaping

    def _shape(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out = {"id": tweet["id"], "text": tweet["text"],
               "edit_history_tweet_ids": tweet["edit_history_tweet_ids"]}
        for f in fields:
            if f in tweet:
                out[f] = tweet[f]
        return out

    def _page(self, request: web.Request, tweets: list[dict[str, Any]], token_key: str,
              lo: int, hi: int) -> dict[str, Any]:
        q = request.query
        tweets = sorted(tweets, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in q:
            tweets = [t for t in tweets if int(t["id"]) > int(q["since_id"])]
        if "until_id" in q:
            tweets = [t for t in tweets if int(t["id"]) < int(q["until_id"])]
        if "start_time" in q:
            start = datetime.strptime(q["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            tweets = [t for t in tweets if _created(t) >= start]
        size = int(q.get("max_results", 10))
        if not lo <= size <= hi:
            raise _Invalid("max_results", str(size),
                           f"The `max_results` query parameter value [{size}] is not between "
                           f"{lo} and {hi}")
        offset = int(q[token_key][7:], 16) if token_key in q else 0
        chunk = tweets[offset : offset + size]
        fields = set(filter(None, q.get("tweet.fields", "").split(",")))
        body: dict[str, Any] = {}
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if chunk:
            body["data"] = [self._shape(t, fields) for t in chunk]
            meta["newest_id"] = chunk[0]["id"]
            meta["oldest_id"] = chunk[-1]["id"]
            if "author_id" in q.get("expansions", ""):
                ids = dict.fromkeys(t["author_id"] for t in chunk if t.get("author_id"))
                body["includes"] = {"users": [self.users[i] for i in ids if i in self.users]}
        if offset + size < len(tweets):
            meta["next_token"] = f"7140dib{offset + size:x}"
        body["meta"] = meta
        return body

    async def _timeline(self, request: web.Request, endpoint: str, tweets: list[dict[str, Any]],
                        token_key: str, lo: int) -> web.Response:
        try:
            return self._answer(request, endpoint, 200,
                                self._page(request, tweets, token_key, lo, 100))
        except _Invalid as exc:
            return self._answer(request, endpoint, 400, exc.body())

    # ------------------------------------------------------------------ handlers

    async def _mentions(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "mentions")) is not None:
            return denied
        uid = request.match_info["id"]
        user = self.users.get(uid)
        name = f"@{user['username']}".lower() if user else "\0"
        tweets = [t for t in self.tweets.values()
                  if t.get("author_id") != uid
                  and (name in t["text"].lower() or t.get("in_reply_to_user_id") == uid)]
        return await self._timeline(request, "mentions", tweets, "pagination_token", 5)

    async def _search(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "search")) is not None:
            return denied
        query = request.query.get("query", "")
        plus, minus, no_rt = _terms(query)
        tweets = [
            t for t in self.tweets.values()
            if any(p in t["text"].lower() for p in plus)
            and not any(m in t["text"].lower() for m in minus)
            and not (no_rt and any(r.get("type") == "retweeted"
                                   for r in t.get("referenced_tweets", [])))
        ]
        return await self._timeline(request, "search", tweets, "next_token", 10)

    async def _lookup(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "lookup")) is not None:
            return denied
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return self._answer(request, "lookup", 400, _Invalid(
                "ids", request.query.get("ids", ""), "ids: between 1 and 100 ids").body())
        fields = set(filter(None, request.query.get("tweet.fields", "").split(",")))
        body: dict[str, Any] = {}
        found = [self._shape(self.tweets[i], fields) for i in ids if i in self.tweets]
        if found:
            body["data"] = found
        missing = [i for i in ids if i not in self.tweets]
        if missing:
            body["errors"] = [{
                "value": i, "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            } for i in missing]
        return self._answer(request, "lookup", 200, body)

    async def _user_by_name(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "users")) is not None:
            return denied
        name = request.match_info["username"].lower()
        for u in self.users.values():
            if u["username"].lower() == name:
                return self._answer(request, "users", 200, {"data": dict(u)})
        return self._answer(request, "users", 200, {"errors": [{
            "value": name, "detail": f"Could not find user with username: [{name}].",
            "title": "Not Found Error", "resource_type": "user", "parameter": "username",
            "resource_id": name,
            "type": "https://api.twitter.com/2/problems/resource-not-found"}]})

    async def _create(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "create", user_context=True)) is not None:
            return denied
        body = await request.json()
        text = str(body.get("text", ""))
        if not text or len(text) > 280:
            return self._answer(request, "create", 400, _Invalid(
                "text", text, "text: 1 to 280 characters").body())
        parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if parent is not None and str(parent) not in self.tweets:
            return self._answer(request, "create", 400, _Invalid(
                "reply.in_reply_to_tweet_id", str(parent), "tweet not found").body())
        for p in self.posted:
            if p["text"] == text:
                return self._answer(request, "create", 403, problem(
                    403, "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content."))
        tid = self.tweet(text, self.account["id"], reply_to=str(parent) if parent else None)
        self.posted.append({"id": tid, **body})
        return self._answer(request, "create", 201, {
            "data": {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}})


class _Invalid(Exception):  # noqa: N818
    def __init__(self, name: str, value: str, message: str):
        super().__init__(message)
        self.name, self.value, self.message = name, value, message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"parameters": {self.name: [self.value]}, "message": self.message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"}


def _created(tweet: dict[str, Any]) -> datetime:
    if "created_at" in tweet:
        return datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
    ms = (int(tweet["id"]) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def _terms(query: str) -> tuple[list[str], list[str], bool]:
    plus, minus, no_rt = [], [], False
    for word in re.findall(r'-?"[^"]+"|\S+', query.replace("(", " ").replace(")", " ")):
        if word.upper() == "OR":
            continue
        if word.lower() == "-is:retweet":
            no_rt = True
        elif word.startswith("-"):
            minus.append(word[1:].strip('"').lower())
        elif ":" not in word:
            plus.append(word.strip('"').lower())
    return plus, minus, no_rt
