"""A small local Telegram Bot API: the documented JSON over HTTP, nothing mocked.

python-telegram-bot is pointed at it with `api_base_url`. It POSTs form-encoded
parameters (nested values as JSON strings) to `/bot{token}/{method}` and expects
`{"ok": true, "result": ...}`. getUpdates honours `offset` (an update is forgotten
only when a later call names a higher offset) and `timeout` (long poll). Files are
served from `/file/bot{token}/{file_path}`. Tests play the users: `message()`,
`press()`, then wait for what the bot sent with `wait_sent()`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

BOT_ID = 777000111
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout"}


class FakeBotAPI:
    def __init__(self, token: str = "123456:TEST-token", username: str = "AduanTestBot"):
        self.token = token
        self.username = username
        self.pending: list[dict[str, Any]] = []  # updates not yet confirmed
        self.delivered: defaultdict[int, int] = defaultdict(int)  # update_id -> times sent
        self.sent: list[dict[str, Any]] = []  # sendMessage calls that succeeded
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery
        self.edits: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (path, bytes)
        self.failures: defaultdict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        # file path -> gate: its download hangs until the gate is set
        self.blocked_files: dict[str, asyncio.Event] = {}
        self._update_ids = itertools.count(5000)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1))
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ server

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                    shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        queue = self.failures.get(method)
        if queue:
            status, body = queue.popleft()
            return web.json_response(body, status=status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        gate = self.blocked_files.get(path)
        if gate is not None:
            await gate.wait()
        for stored_path, data in self.files.values():
            if stored_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    # ------------------------------------------------------------------ methods

    async def _m_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Aduan", "username": self.username,
                "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = p
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        if offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            await self._notify()
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        async with self._changed:
            while not self.pending and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    break
        batch = self.pending[: int(p.get("limit") or 100)]
        for u in batch:
            self.delivered[u["update_id"]] += 1
        return batch

    async def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        msg = self._bot_message(chat_id, p["text"])
        if isinstance(p.get("reply_markup"), dict) and "inline_keyboard" in p["reply_markup"]:
            msg["reply_markup"] = p["reply_markup"]  # Telegram echoes only inline keyboards
        self.sent.append({**p, "chat_id": chat_id, "message_id": msg["message_id"],
                          "at": time.monotonic()})
        return msg

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        self.answers.append(p)
        return True

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        self.edits.append(p)
        return self._bot_message(int(p["chat_id"]), "(edited)", new_id=int(p["message_id"]))

    async def _m_getFile(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        stored = self.files.get(p["file_id"])
        if stored is None:
            return _error(400, "Bad Request: invalid file_id")
        path, data = stored
        return {"file_id": p["file_id"], "file_unique_id": p["file_id"][-8:],
                "file_size": len(data), "file_path": path}

    def _bot_message(self, chat_id: int, text: str, new_id: int | None = None) -> dict[str, Any]:
        return {
            "message_id": new_id or next(self._message_ids[chat_id]),
            "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Aduan",
                     "username": self.username},
        }

    # ------------------------------------------------------------------ users

    def user(self, user_id: int, first_name: str | None = None) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name or f"Warga{user_id}",
                "username": f"warga{user_id}", "language_code": "id"}

    def message(self, user_id: int, text: str | None = None, *, reply_to: int | None = None,
                first_name: str | None = None, **extra: Any) -> dict[str, Any]:
        """A private message from a user; returns it (with its message_id)."""
        chat = {"id": user_id, "type": "private", "first_name": first_name or f"Warga{user_id}"}
        msg: dict[str, Any] = {"message_id": next(self._message_ids[user_id]),
                               "date": int(time.time()), "chat": chat,
                               "from": self.user(user_id, first_name), **extra}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        if reply_to is not None:
            msg["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()),
                                       "chat": chat, "text": "..."}
        self.push({"message": msg})
        return msg

    def photo(self, user_id: int, data: bytes, caption: str | None = None,
              **extra: Any) -> dict[str, Any]:
        small = self.add_file(data[:100], "photos/small.jpg")
        big = self.add_file(data, f"photos/p{len(self.files)}.jpg")
        sizes = [{"file_id": small, "file_unique_id": small[-6:], "width": 90, "height": 60,
                  "file_size": min(100, len(data))},
                 {"file_id": big, "file_unique_id": big[-6:], "width": 1280, "height": 960,
                  "file_size": len(data)}]
        return self.message(user_id, None, photo=sizes,
                            **({"caption": caption} if caption else {}), **extra)

    def add_file(self, data: bytes, path: str) -> str:
        file_id = f"FILE{len(self.files):04d}xyz"
        self.files[file_id] = (path, data)
        return file_id

    def press(self, user_id: int, message: dict[str, Any], data: str) -> None:
        """The user presses an inline button of a message the bot sent them."""
        msg = self._bot_message(user_id, message.get("text", ""), new_id=message["message_id"])
        self.push({"callback_query": {"id": f"cq{next(self._update_ids)}",
                                      "from": self.user(user_id), "message": msg,
                                      "chat_instance": str(user_id), "data": data}})

    def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self.pending.append({"update_id": update_id, **update})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    def fail(self, method: str, status: int = 429, times: int = 1,
             retry_after: int = 1) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status}
        if status == 429:
            body["description"] = f"Too Many Requests: retry after {retry_after}"
            body["parameters"] = {"retry_after": retry_after}
        else:
            body["description"] = "Forbidden: bot was blocked by the user"
        for _ in range(times):
            self.failures[method].append((status, body))

    # ------------------------------------------------------------------ looking

    async def wait_confirmed(self, within: float = 15.0) -> None:
        """Until the bot has confirmed (so finished) every update sent so far."""
        await self.wait_for(lambda: not self.pending, within, "all updates confirmed")

    def texts_to(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    async def wait_sent(self, chat_id: int, contains: str = "", count: int = 1,
                        within: float = 15.0) -> list[dict[str, Any]]:
        """Wait until `count` messages to `chat_id` containing `contains` were sent."""
        def found() -> list[dict[str, Any]]:
            return [m for m in self.sent if m["chat_id"] == chat_id and contains in m["text"]]
        await self.wait_for(lambda: len(found()) >= count, within,
                            f"{count} message(s) to {chat_id} containing {contains!r}")
        return found()

    async def wait_for(self, predicate: Any, within: float = 15.0, what: str = "") -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)
        try:
            await asyncio.wait_for(_wait(), within)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what or predicate}; "
                                 f"sent={[(m['chat_id'], m['text'][:60]) for m in self.sent]}"
                                 ) from None


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        raw = await request.json()
    elif request.method == "POST":
        raw = dict(await request.post())
    else:
        raw = dict(request.query)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if key in INT_FIELDS and isinstance(value, str):
            value = int(value)
        out[key] = value
    return out


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description},
                             status=code)
