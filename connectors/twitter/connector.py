"""The X (Twitter) connector: mentions and search become reports, ticketed tweets are
watched for engagement, and (if allowed) staff replies are posted as reply tweets.

One loop schedules three jobs (mentions, search, engagement), each with its own
"next run" time. Every X call goes through the `Gate`, which refuses calls that would
overspend a budget or ignore a 429 reset and backs off after 5xx/network errors; a
refusal simply moves that job's next run, so one empty bucket never stalls the others.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tweepy.asynchronous import AsyncClient
from tweepy.errors import Forbidden

from aggregator.domain import IngestResult, Report
from aggregator.intake.port import Connector, ConnectorContext
from aggregator.messages import Ack, OutboundMessage, Reply, SendResult, StatusChange
from connectors.twitter import compose, engagement
from connectors.twitter.parse import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    metrics_of,
    reports_from,
    tweets_of,
)
from connectors.twitter.quota import Gate, NotNow, ReadBudget
from connectors.twitter.settings import TwitterSettings
from connectors.twitter.timeline import SEARCH_REACH, Timeline, TimelineCursor, hold_back
from connectors.twitter.wire import close_client, make_client

LOOKUP_BATCH = 100  # ids per GET /2/tweets (X's maximum)
ENGAGEMENT = "engagement"


class TwitterConnector(Connector):
    Settings = TwitterSettings
    settings: TwitterSettings

    def __init__(self, settings: TwitterSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        self.gate = Gate(settings)
        self.reads = ReadBudget(settings.engagement.max_reads_per_day)
        self._refreshed: dict[str, float] = {}  # tweet id -> last refresh (epoch)
        self.account_id: str | None = settings.account_id
        self.cursor: dict[str, Any] = {}
        self.next_at: dict[str, float] = {}
        self.last_run: dict[str, str] = {}
        self.counts = {"reports": 0, "new_tickets": 0, "dropped": 0, "samples": 0, "posted": 0}
        self._client: AsyncClient | None = None
        self._stop = asyncio.Event()
        self._running = False
        self._gone: set[str] = set()  # deleted/protected tweets: stop paying for them

    # ------------------------------------------------------------------ lifecycle

    def client(self) -> AsyncClient:
        if self._client is None:
            self._client = make_client(self.settings, self.gate.observe)
        return self._client

    async def run(self) -> None:
        # A stop ends one run, not the instance: the supervisor runs it again after a
        # lease heartbeat failed (as the email connector does).
        self._stop.clear()
        self._running = True
        try:
            await self._loop()
        finally:
            self._running = False
            await self._close()

    async def _loop(self) -> None:
        self.cursor = await self.ctx.load_cursor()
        self.gate.load(self.cursor.get("spent") or {})
        self.reads.load(self.cursor.get("reads"), time.time())
        jobs = self._jobs()
        for name in jobs:
            self.next_at.setdefault(name, 0.0)
        while not self._stop.is_set():
            for name, job in jobs.items():
                if self._stop.is_set():
                    break
                if self.next_at[name] <= time.time():
                    self.next_at[name] = time.time() + await job()
                    self.last_run[name] = _iso(time.time())
            wait = max(0.0, min(self.next_at.values()) - time.time())
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Ends `run` after the job in progress; the client closes when run ends."""
        self._stop.set()
        if not self._running:
            await self._close()

    async def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await close_client(client)

    def _jobs(self) -> dict[str, Any]:
        s = self.settings
        jobs: dict[str, Any] = {}
        backfill = timedelta(hours=s.backfill_hours)
        if s.polls_mentions:
            mentions = Timeline("mentions", "mentions", self._fetch_mentions,
                                max_pages=s.max_pages, backfill=backfill)
            jobs["mentions"] = lambda: self._poll(mentions)
        if query := s.search_query():
            search = Timeline("search", "search", self._search_fetcher(query),
                              max_pages=s.max_pages, backfill=backfill, reach=SEARCH_REACH)
            jobs["search"] = lambda: self._poll(search)
        if s.engagement.enabled:
            jobs[ENGAGEMENT] = self.refresh_engagement
        return jobs

    # ------------------------------------------------------------------ intake

    async def _poll(self, timeline: Timeline) -> float:
        """Fetch one timeline and ingest it; returns seconds until its next poll."""
        s = self.settings
        if self.account_id is None and s.username:  # also keeps our own posts out
            try:
                self.account_id = await self._resolve_account()
            except NotNow as exc:
                return exc.wait
        cur = TimelineCursor.load(self.cursor.get(timeline.name))
        walk = await timeline.walk(self.gate, cur, datetime.now(UTC))
        held_before = (self.cursor.get("held") or {}).get(timeline.name)
        pages = ([held_before] if held_before else []) + walk.pages
        if walk.complete:
            ready, held = pages, None
        elif walk.pages:
            ready, held = hold_back(pages, walk.cursor.since_id, walk.cursor.until_id)
        else:
            ready, held = [], held_before
        reports, dropped = reports_from(
            ready, source=self.name, timeline=timeline.name,
            own_account=self.account_id, ack=s.reply_publicly,
        )
        cursor = {**self.cursor, timeline.name: walk.cursor.dump(), "spent": self.gate.dump(),
                  "reads": self.reads.dump(),
                  "held": {**(self.cursor.get("held") or {}), timeline.name: held}}
        cursor["held"] = {k: v for k, v in cursor["held"].items() if v}
        if self.account_id:
            cursor["account"] = {"id": self.account_id, "username": s.username}
        if reports or walk.pages:
            results = await self.ctx.ingest(reports, cursor=cursor)
            self.cursor = cursor
            await self._count(reports, results, dropped)
        if walk.stopped is not None:
            self.log.info("%s poll paused: %s", timeline.name, walk.stopped)
            return max(walk.stopped.wait, 0.01)
        return s.poll_interval if walk.complete else 0.0

    async def _count(self, reports: list[Report], results: list[IngestResult],
                     dropped: int) -> None:
        self.counts["dropped"] += dropped
        first: list[tuple[engagement.Tracked, dict[str, int]]] = []
        for report, res in zip(reports, results, strict=True):
            if not res.created_report:
                continue
            self.counts["reports"] += 1
            self.counts["new_tickets"] += int(res.created_ticket)
            if metrics := report.meta.get("public_metrics"):
                first.append((engagement.Tracked(res.report_id, res.ticket_id,
                                                 report.external_id, report.sent_at), metrics))
        # The metrics seen at intake are the first point of each series.
        self.counts["samples"] += await engagement.record(
            self.ctx, first, at=datetime.now(UTC))

    async def _resolve_account(self) -> str:
        saved = self.cursor.get("account") or {}
        if saved.get("id") and saved.get("username") == self.settings.username:
            return str(saved["id"])
        page = await self.gate.call("users", lambda: self.client().get_user(
            username=self.settings.username))
        if not isinstance(page.get("data"), dict) or not page["data"].get("id"):
            detail = "; ".join(str(e.get("detail")) for e in page.get("errors") or [])
            raise LookupError(f"X has no account @{self.settings.username} ({detail})")
        return str(page["data"]["id"])

    async def _fetch_mentions(self, since_id: str | None, until_id: str | None,
                              start: datetime | None, token: str | None) -> dict[str, Any]:
        return await self.client().get_users_mentions(
            self.account_id, since_id=since_id, until_id=until_id, start_time=start,
            pagination_token=token, max_results=self.settings.max_results,
            expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
        )

    def _search_fetcher(self, query: str) -> Any:
        async def fetch(since_id: str | None, until_id: str | None, start: datetime | None,
                        token: str | None) -> dict[str, Any]:
            return await self.client().search_recent_tweets(
                query, since_id=since_id, until_id=until_id, start_time=start,
                next_token=token, max_results=max(10, self.settings.max_results),
                expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
            )
        return fetch

    # ------------------------------------------------------------------ engagement

    async def refresh_engagement(self) -> float:
        """Look up public_metrics of due tweets on open tickets and record the changes;
        returns seconds until the next round."""
        e = self.settings.engagement
        now = datetime.now(UTC)
        tracked = [t for t in await engagement.candidates(
            self.ctx, now=now, max_age_hours=e.max_age_hours, limit=e.max_tweets)
            if t.external_id not in self._gone and self._due(t, now)]
        left = self.reads.left(now.timestamp())
        by_id = {t.external_id: t for t in tracked[:left]}
        ids = list(by_id)
        observed: list[tuple[engagement.Tracked, dict[str, int]]] = []
        wait = e.refresh_interval
        if left == 0 and tracked:
            self.log.info("engagement paused: max_reads_per_day reached")
        for i in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[i : i + LOOKUP_BATCH]
            try:
                page = await self.gate.call("lookup", lambda c=chunk: self.client().get_tweets(
                    c, tweet_fields=["public_metrics"]))
            except NotNow as exc:
                wait = exc.wait  # the rest waits for the budget
                break
            self.reads.spend(time.time(), len(chunk))
            for tweet in tweets_of(page):
                if (t := by_id.get(str(tweet["id"]))) and (m := metrics_of(tweet)):
                    observed.append((t, m))
                    self._refreshed[t.external_id] = now.timestamp()
            for err in page.get("errors") or []:
                gone = str(err.get("resource_id") or err.get("value") or "")
                if gone in by_id:
                    self._gone.add(gone)
        self.counts["samples"] += await engagement.record(
            self.ctx, observed, at=datetime.now(UTC))
        self._forget_refreshed(now.timestamp() - e.max_age_hours * 3600)
        return wait

    def _forget_refreshed(self, before: float) -> None:
        """A tweet last refreshed before `before` was posted before it too: it is past
        max_age_hours and never a candidate again. Without this every tweet ever
        refreshed kept its entry."""
        if self._refreshed and min(self._refreshed.values()) < before:
            self._refreshed = {k: t for k, t in self._refreshed.items() if t >= before}

    def _due(self, tracked: engagement.Tracked, now: datetime) -> bool:
        """Young tweets every refresh_interval; the interval grows with age."""
        last = self._refreshed.get(tracked.external_id)
        if last is None:
            return True
        e = self.settings.engagement
        age_h = (now - tracked.posted_at).total_seconds() / 3600 if tracked.posted_at else 0
        interval = e.refresh_interval * (1 + max(0.0, age_h) / e.slowdown_hours)
        return now.timestamp() - last >= interval * 0.98  # a round may start a bit early

    # ------------------------------------------------------------------ replies

    async def send(self, message: OutboundMessage) -> SendResult:
        s = self.settings
        if not s.reply_publicly:
            return SendResult(skipped=True)
        if self._stop.is_set():
            raise RuntimeError("the connector is stopping")  # retried after restart
        body = message.body
        number = message.ticket_number
        fields = {"ticket_number": str(number), "private_channel": s.private_channel}
        target: str | None
        if isinstance(body, Ack) and body.reason not in ("reply", "existing"):
            target, text = body.report_external_id, compose.public_notice(
                s.public_ack_template, **fields)
        elif isinstance(body, Reply) and body.text:
            target, text = next(iter(body.report_external_ids), None), compose.public_reply(
                s.public_reply_template, body.text, **fields)
        elif isinstance(body, StatusChange) and body.after in s.public_status_states:
            target, text = next(iter(body.report_external_ids), None), compose.public_notice(
                s.public_status_template, state=body.after, **fields)
        else:
            return SendResult(skipped=True)
        if not target or not number:
            return SendResult(skipped=True)
        return await self._post(str(target), text)

    async def _post(self, in_reply_to: str, text: str) -> SendResult:
        try:
            page = await self.gate.call("create", lambda: self.client().create_tweet(
                text=text, in_reply_to_tweet_id=in_reply_to, user_auth=True))
        except NotNow as exc:
            if exc.failure:
                raise RuntimeError(str(exc)) from exc  # counts as a failed attempt
            return SendResult(retry_after=exc.wait)  # budget or 429: just later
        except Forbidden as exc:
            if any("duplicate" in m.lower() for m in exc.api_messages):
                # At-least-once delivery re-sent a post X already has: it is out.
                return SendResult()
            raise
        self.counts["posted"] += 1
        return SendResult(external_id=str(page["data"]["id"]))

    # ------------------------------------------------------------------ health

    def exclusive(self) -> bool:
        return True  # one poller per X account (budgets are per account)

    def health(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "next_run_at": {k: _iso(v) for k, v in self.next_at.items()},
            "last_run_at": dict(self.last_run),
            "since_id": {k: (self.cursor.get(k) or {}).get("since_id")
                         for k in ("mentions", "search") if k in self.cursor},
            "quota": self.gate.as_dict(),
            "engagement_reads_left_today": self.reads.left(time.time()),
            "counts": dict(self.counts),
        }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
