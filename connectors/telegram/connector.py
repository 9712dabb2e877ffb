"""The Telegram connector: python-telegram-bot's `Bot` inside the daemon's own loop.

Exactly once. Telegram forgets an update only when a later getUpdates names a
higher offset, so this loop asks for the next batch only after every update of the
current one is fully processed (its report committed by `ctx.ingest`). A crash at any
point therefore leaves the unfinished updates with Telegram, which sends them again;
ingest is idempotent on the message id, so nothing is stored twice. We poll with our
own loop rather than PTB's `Updater` because the Updater confirms a batch as soon as
it has queued it, before any handler has run.

The cursor `{"update_id", "at"}` (last batch fully processed) is stored with the
reports and after each batch; on restart it lets us skip re-delivered updates that
were already handled (say, a /status already answered). Telegram may renumber updates
after a week without any, so an older cursor is not trusted.

Updates of one chat are handled in order; different chats in parallel, which lets
the ingestor group their commits.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from aggregator.intake.port import Connector, ConnectorContext
from aggregator.messages import OutboundMessage, SendResult
from aggregator.runtime import backoff
from connectors.telegram.api import retry_seconds
from connectors.telegram.conversation import Conversation
from connectors.telegram.outbound import Outbound
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.store import TelegramStore

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CURSOR_TRUST = timedelta(days=6)
SWEEP_EVERY = 60.0
CHATS_AT_ONCE = 16
MAX_WEBHOOK_BODY = 1024 * 1024
T = TypeVar("T")


class RawUpdatesBot(Bot):
    """PTB's Bot plus getUpdates as raw JSON (see `_get_updates` for why)."""

    async def raw_updates(self, params: dict[str, Any], read_timeout: float) -> Any:
        return await self._post("getUpdates", params, read_timeout=read_timeout)


class TelegramConnector(Connector):
    Settings = TelegramSettings
    settings: TelegramSettings

    def __init__(self, settings: TelegramSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        root = settings.api_root
        self.bot = RawUpdatesBot(
            settings.token.get_secret_value(),
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15.0),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=10.0),
        )
        self.store = TelegramStore(ctx)
        self.conversation = Conversation(settings, ctx, self.store, self.bot)
        self.outbound = Outbound(settings, self.store, self.bot)
        self._ready_lock = asyncio.Lock()
        self._bot_ready = False
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._offset: int | None = None
        # Chats handled at once: enough to fill a group commit, few enough to leave the
        # database pool to the ingest writer and the outbox.
        self._workers = asyncio.Semaphore(CHATS_AT_ONCE)
        self._next_sweep = 0.0
        self._stats: dict[str, Any] = {"updates": 0, "last_update_id": None,
                                       "last_poll_at": None, "standby": False,
                                       "consecutive_failures": 0, "errors": 0,
                                       "last_error": None}

    # ---------------------------------------------------------------- lifecycle

    async def _ready(self) -> None:
        async with self._ready_lock:
            if not self._bot_ready:
                await self.bot.initialize()  # getMe: checks the token, learns our username
                self._bot_ready = True

    async def run(self) -> None:
        # A stop ends one run, not the instance: the supervisor runs it again after a
        # lease heartbeat failed (a locked database), and it must poll again.
        self._stopping.clear()
        self._idle.clear()
        try:
            await self._ready()
            if self.settings.mode == "webhook":
                await self._serve_webhook()
            else:
                await self._poll_forever()
        finally:
            self._idle.set()
        # Stopped on request: stay parked until cancelled (returning reads as a crash).
        await asyncio.get_running_loop().create_future()

    async def stop(self) -> None:
        self._stopping.set()
        try:
            await asyncio.wait_for(self._idle.wait(), 4.0)
        except TimeoutError:
            self.log.warning("telegram: still busy at stop; unfinished updates will be re-read")
        if self._bot_ready:
            if self._offset is not None:  # confirm the last batch so a restart skips it
                try:
                    await self.bot.get_updates(offset=self._offset, timeout=0,
                                               allowed_updates=ALLOWED_UPDATES)
                except Exception as exc:  # noqa: BLE001 - best effort, re-read is harmless
                    self.log.info("telegram: final confirm failed: %s", exc)
            async with self._ready_lock:
                await self.bot.shutdown()
                self._bot_ready = False

    # ---------------------------------------------------------------- polling

    async def _poll_forever(self) -> None:
        # Polling and a webhook exclude each other on Telegram's side.
        await self.bot.delete_webhook(drop_pending_updates=False)
        watermark = await self.ctx.load_cursor() or None
        skip_upto = _trusted(watermark)
        while not self._stopping.is_set():
            await self._sweep_if_due()
            try:
                stopped, raw = await self._unless_stopped(self._get_updates())
            except RetryAfter as exc:
                await self._pause(retry_seconds(exc))
                continue
            except Conflict as exc:
                # Another process polls this bot (a second replica): stand by.
                self._stats["standby"] = True
                self.log.warning("telegram: another poller is active (%s); standing by", exc)
                await self._pause(max(5.0, float(self.settings.poll_timeout)))
                continue
            except InvalidToken:
                raise  # not transient: crash, so the operator sees it
            except TelegramError as exc:
                # Network trouble, 5xx, a timeout, an unreadable answer: back off here
                # (shown in /healthz) rather than crash and wait out the supervisor.
                await self._pause(self._failed(exc))
                continue
            if stopped:
                break
            self._stats.update(standby=False, last_poll_at=time.time(), consecutive_failures=0)
            if raw:
                updates = self._parse(raw)
                fresh = [u for u in updates if skip_upto is None or u.update_id > skip_upto]
                await self._process(fresh, watermark)
                last = max(int(item["update_id"]) for item in raw)
                watermark = {"update_id": last, "at": datetime.now(UTC).isoformat()}
                await self.ctx.save_cursor(watermark)
                self._offset = last + 1
                self._stats.update(last_update_id=last,
                                   updates=self._stats["updates"] + len(raw))
            if self.settings.poll_interval:
                await self._pause(self.settings.poll_interval)

    def _failed(self, exc: Exception) -> float:
        """Count a failed getUpdates; returns seconds to wait before the next."""
        failures = self._stats["consecutive_failures"] + 1
        error = f"{type(exc).__name__}: {exc}"[:300]
        self._stats.update(consecutive_failures=failures, errors=self._stats["errors"] + 1,
                           last_error=error)
        wait = backoff.delay(failures, base=0.5, cap=30.0)
        self.log.warning("telegram: getUpdates failed (%s); retrying in %.1f s", error, wait)
        return wait

    async def _get_updates(self) -> list[dict[str, Any]]:
        """getUpdates as raw JSON, so one update PTB cannot parse is skipped alone
        instead of failing the whole batch again and again."""
        params: dict[str, Any] = {"timeout": self.settings.poll_timeout,
                                  "allowed_updates": ALLOWED_UPDATES}
        if self._offset is not None:
            params["offset"] = self._offset
        raw = await self.bot.raw_updates(params, read_timeout=self.settings.poll_timeout + 10.0)
        return [item for item in raw if isinstance(item, dict) and "update_id" in item]

    def _parse(self, raw: list[dict[str, Any]]) -> list[Update]:
        updates = []
        for item in raw:
            try:
                updates.append(Update.de_json(item, self.bot))
            except Exception as exc:  # noqa: BLE001 - hostile or newer-than-PTB input
                self._stats["unreadable"] = self._stats.get("unreadable", 0) + 1
                self.log.error("telegram: update %s unreadable, skipped: %s",
                               item.get("update_id"), exc)
        return updates

    async def _process(self, updates: list[Update], cursor: dict[str, Any] | None) -> None:
        by_chat: dict[int, list[Update]] = {}
        for u in updates:
            chat = u.effective_chat
            by_chat.setdefault(chat.id if chat else -u.update_id, []).append(u)
        try:
            async with asyncio.TaskGroup() as tg:
                for chat_updates in by_chat.values():
                    tg.create_task(self._in_order(chat_updates, cursor))
        except ExceptionGroup as group:
            raise group.exceptions[0] from None

    async def _in_order(self, updates: list[Update], cursor: dict[str, Any] | None) -> None:
        for u in updates:
            chat = u.effective_chat
            key = chat.id if chat else 0
            lock = self._chat_locks.get(key)
            if lock is None:
                lock = self._chat_locks[key] = asyncio.Lock()
            async with lock, self._workers:
                await self.conversation.handle(u, cursor)

    async def _unless_stopped(self, aw: Awaitable[T]) -> tuple[bool, T | None]:
        work = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not work.done():
            work.cancel()
            return True, None
        return False, work.result()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _sweep_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            done = await self.conversation.intake.sweep()
            if done:
                self.log.info("telegram: %d unanswered ticket choices stored as new", done)

    # ---------------------------------------------------------------- webhook

    @property
    def webhook_path(self) -> str:
        return self.settings.webhook_path or f"/hooks/{self.name}"

    async def _serve_webhook(self) -> None:
        url = self.settings.webhook_url
        public = self.ctx.settings.web.public_url
        if url is None and public:
            url = public.rstrip("/") + self.webhook_path
        secret = self.settings.webhook_secret
        if url:
            await self.bot.set_webhook(
                url=url, secret_token=secret.get_secret_value() if secret else None,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            self.log.warning("telegram webhook mode without webhook_url or web.public_url: "
                             "register %s with Telegram yourself", self.webhook_path)
        while not self._stopping.is_set():
            await self._sweep_if_due()
            await self._pause(SWEEP_EVERY)

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        if self.settings.mode != "webhook":
            return ()
        return [web.post(self.webhook_path, self._on_webhook)]

    async def _on_webhook(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.settings.secret_token_matches(given):
            return web.json_response({"ok": False, "error": "bad secret token"}, status=401)
        if (request.content_length or 0) > MAX_WEBHOOK_BODY:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            data = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        await self._ready()
        parsed = self._parse([data]) if isinstance(data, dict) and "update_id" in data else []
        if not parsed:
            # Signed by Telegram but unreadable: accept it, or Telegram retries it forever.
            return web.json_response({"ok": True, "skipped": True})
        update = parsed[0]
        # Answer 200 only once stored: on an error Telegram delivers the update again.
        await self._in_order([update], None)
        self._stats.update(last_update_id=update.update_id,
                           updates=self._stats["updates"] + 1)
        return web.json_response({"ok": True})

    # ---------------------------------------------------------------- outbox

    async def send(self, message: OutboundMessage) -> SendResult:
        await self._ready()
        return await self.outbound.send(message)

    def exclusive(self) -> bool:
        return self.settings.mode == "polling"  # Telegram allows one getUpdates

    def health(self) -> dict[str, Any]:
        return {
            "mode": self.settings.mode,
            "bot": self.bot.username if self._bot_ready else None,
            "standby": self._stats["standby"],
            "updates": self._stats["updates"],
            "last_update_id": self._stats["last_update_id"],
            "last_poll_at": self._stats["last_poll_at"],
            "flood_refused": self.conversation.limiter.refused,
            "skipped_updates": self.conversation.skipped_updates,
            "unreadable_updates": self._stats.get("unreadable", 0),
            "consecutive_failures": self._stats["consecutive_failures"],
            "errors": self._stats["errors"], "last_error": self._stats["last_error"],
        }


def _trusted(cursor: dict[str, Any] | None) -> int | None:
    """The stored update id, if recent enough to compare new ids against."""
    if not cursor or "update_id" not in cursor or "at" not in cursor:
        return None
    try:
        at = datetime.fromisoformat(cursor["at"])
    except (TypeError, ValueError):
        return None
    return int(cursor["update_id"]) if datetime.now(UTC) - at < CURSOR_TRUST else None
