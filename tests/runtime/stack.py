"""`aggregator run` with every connector, each upstream a local fake behind a
`FaultProxy`, and citizens writing on every channel: the fault tests and the soak
benchmark (bench/soak.py) share it.

Upstreams: a real Dovecot (IMAP), the aiosmtpd sink (SMTP), the fake Bot API, the
fake X API and a LAPOR-style callback receiver. Citizens do what people do: append
mail to the mailbox, message the bot, mention the account on X, and (as a portal)
POST signed reports to the webhook, sending again while the answer is not a 2xx.
Every text carries a tag (`[ref mail-12]`) so the test can tell, per message, whether
it was stored and how often.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from connectors.webhook.signing import sign_headers
from storage.accounts import add_user, create_token
from storage.db import create_engine, session_factory
from storage.models import Outbox, Report
from tests.connectors.email.dovecot import PASSWORD, Dovecot
from tests.connectors.email.mails import AGENCY, complaint, distinct_text
from tests.connectors.email.sink import SmtpSink
from tests.connectors.telegram.fake_bot_api import FakeBotAPI
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.webhook.receiver import Receiver, receiving
from tests.core.daemon import Daemon, free_port, write_config
from tests.runtime.faults import FaultProxy

SECRET = "fault-stack-secret-0123456789abcdef"
CHANNELS = ("lapor", "mail", "tg", "x")  # connector names; also the report sources
UPSTREAMS = ("imap", "smtp", "telegram", "x", "callback")
TAG = re.compile(r"\[ref ([a-z]+-\d+)\]")
OPEN = {"per_15min": None, "per_day": None}


@dataclass
class Sent:
    """What citizens and staff sent, to compare with what the service stored."""

    tags: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHANNELS})
    mail_from: list[str] = field(default_factory=list)  # one address per mail
    tg_chats: list[int] = field(default_factory=list)
    lapor_tickets: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # tickets a staff reply was queued on
    webhook_refused: int = 0  # non-2xx answers the portal had to send again


class Stack:
    def __init__(self, db_url: str, tmp: Path, dovecot: Dovecot, *,
                 env: dict[str, str] | None = None, x_poll_interval: float = 0.5):
        self.db_url, self.tmp, self.dovecot = db_url, tmp, dovecot
        self.env = env or {}
        # X allows 450 mentions calls in 15 minutes (so does the fake): a run longer
        # than a few minutes must poll every 2 s or more, or it waits for X's reset.
        self.x_poll_interval = x_poll_interval
        self.user = dovecot.new_user()
        self.sink = SmtpSink()
        self.bot = FakeBotAPI()
        self.x = FakeX()
        self.receiver: Receiver | None = None
        self.proxies: dict[str, FaultProxy] = {}
        self.sent = Sent()
        self.daemon: Daemon | None = None
        self.token = ""
        self._n = 0
        self._exit = AsyncExitStack()
        self.http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Stack:
        try:
            return await self._start()
        except BaseException:
            await self.close()  # nothing left running: fakes, proxies, the daemon
            raise

    async def _start(self) -> Stack:
        self.sink.start()
        self._exit.callback(self.sink.stop)
        await self.bot.start()
        self._exit.push_async_callback(self.bot.close)
        await self.x.start()
        self._exit.push_async_callback(self.x.stop)
        self.receiver = await self._exit.enter_async_context(receiving(SECRET.encode()))
        targets = {"imap": (self.dovecot.port, "imap"), "smtp": (self.sink.port, "smtp"),
                   "telegram": (_port(self.bot.url), "http"), "x": (_port(self.x.url), "http"),
                   "callback": (_port(self.receiver.url), "http")}
        for name, (port, protocol) in targets.items():
            self.proxies[name] = await FaultProxy(port, protocol=protocol).start()
            self._exit.push_async_callback(self.proxies[name].close)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._exit.push_async_callback(self.http.close)
        port = free_port()
        config = write_config(self.tmp / "config.yaml", self.db_url, port, self.connectors())
        self.daemon = Daemon(config, port, env={"TG_TOKEN": self.bot.token, **self.env})
        self._exit.push_async_callback(self.daemon.kill)
        await self.daemon.start(ready_within=60)
        self.token = await self._staff_token()
        return self

    async def close(self) -> None:
        await self._exit.aclose()

    def connectors(self) -> dict[str, Any]:
        """Short timeouts and backoffs where the config has them: faults show fast."""
        p = self.proxies
        assert self.receiver is not None
        return {
            "lapor": {"type": "webhook", "secret": SECRET,
                      "rate_limit": {"rate": 10000, "burst": 10000, "per_client_rate": 10000,
                                     "per_client_burst": 10000},
                      "callback_url": f"{p['callback'].url}/lapor/callback",
                      "callback_timeout": 2},
            "mail": {"type": "email",
                     "imap": {"host": "127.0.0.1", "port": p["imap"].port, "security": "plain",
                              "username": self.user, "password": PASSWORD,
                              "poll_interval": 0.5, "timeout": 2},
                     "smtp": {"host": "127.0.0.1", "port": p["smtp"].port, "security": "plain",
                              "from_address": AGENCY, "from_name": "Layanan Aduan",
                              "timeout": 2}},
            "tg": {"type": "telegram", "token": "${TG_TOKEN}", "api_base_url": p["telegram"].url,
                   "poll_timeout": 1},
            "x": {"type": "twitter", "bearer_token": self.x.bearer,
                  "account_id": self.x.account["id"], "api_base_url": p["x"].url,
                  "poll_interval": self.x_poll_interval, "backoff_initial": 0.2,
                  "backoff_max": 2, "request_timeout": 2, "backfill_hours": 1,
                  "engagement": {"refresh_interval": 5, "max_reads_per_day": None},
                  "budgets": {k: OPEN for k in ("mentions", "search", "lookup", "users",
                                                "create")}},
        }

    async def _staff_token(self) -> str:
        engine = create_engine(self.db_url)
        try:
            async with session_factory(engine)() as s, s.begin():
                await add_user(s, "petugas", "supervisor")
                return await create_token(s, "petugas")
        finally:
            await engine.dispose()

    # ------------------------------------------------------------------ citizens

    def _next(self, channel: str) -> tuple[int, str]:
        self._n += 1
        tag = f"{channel}-{self._n}"
        self.sent.tags[channel].append(tag)
        return self._n, f"{distinct_text(self._n)} [ref {tag}]"

    async def send_mail(self) -> None:
        n, text = self._next("mail")
        sender = f"warga{n}@mail.example.id"
        self.sent.mail_from.append(sender)
        mail = complaint(n, text=text, date=datetime.now(UTC))  # sent now, as citizens do
        await asyncio.to_thread(self.dovecot.append, self.user, [mail])

    def send_telegram(self) -> None:
        n, text = self._next("tg")
        chat = 100_000 + n
        self.sent.tg_chats.append(chat)
        self.bot.message(chat, text)

    def send_tweet(self) -> None:
        n, text = self._next("x")
        author = self.x.user(str(2_000_000 + n), f"warga{n}")
        self.x.tweet(f"@{self.x.account['username']} {text}", author)

    async def send_webhook(self, give_up_after: float = 120.0) -> None:
        """A portal's delivery: sent again until a 2xx, as the webhook contract says."""
        n, text = self._next("lapor")
        body = json.dumps({"id": f"lapor-{n}", "text": text,
                           "reporter": {"name": f"Warga {n}"}}).encode()
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            answer = await self._post_signed(body)
            if answer is not None:
                self.sent.lapor_tickets.append(answer["ticket"])
                return
            self.sent.webhook_refused += 1
            await asyncio.sleep(0.5)
        raise AssertionError(f"webhook report lapor-{n} never accepted")

    async def _post_signed(self, body: bytes) -> dict[str, Any] | None:
        assert self.http is not None and self.daemon is not None
        headers = {"Content-Type": "application/json",
                   **sign_headers(SECRET.encode(), body, time.time())}
        try:
            async with self.http.post(f"{self.daemon.url}/hooks/lapor", data=body,
                                      headers=headers) as resp:
                if resp.status in (200, 201):
                    return dict(await resp.json())
        except (TimeoutError, aiohttp.ClientError):
            pass
        return None

    async def staff_reply(self) -> None:
        """A staff reply on a LAPOR ticket: owed to the portal as a status callback."""
        if not self.sent.lapor_tickets:
            return
        assert self.http is not None and self.daemon is not None
        number = self.sent.lapor_tickets[-1]
        try:
            async with self.http.post(f"{self.daemon.url}/api/tickets/{number}/replies",
                                      json={"text": "Sudah kami teruskan ke dinas terkait."},
                                      headers={"Authorization": f"Bearer {self.token}"}
                                      ) as resp:
                if resp.status == 202:
                    self.sent.replies.append(number)
        except (TimeoutError, aiohttp.ClientError):
            pass  # not queued, as far as staff can tell (the database is away)

    async def round(self) -> None:
        """One message on every channel (and a staff reply), at once."""
        self.send_telegram()
        self.send_tweet()
        await asyncio.gather(self.send_mail(), self.send_webhook())
        await self.staff_reply()

    # ------------------------------------------------------------------ looking

    async def healthz(self) -> dict[str, Any]:
        assert self.http is not None and self.daemon is not None
        async with self.http.get(f"{self.daemon.url}/healthz") as resp:
            return dict(await resp.json())

    async def stored_tags(self) -> dict[str, list[str]]:
        """Per source, the tag of every stored report (a tag twice = stored twice).
        Reads never queue for SQLite's write lock (the daemon hands it to its own
        writers first): a plain WAL reader sees each commit as it lands."""
        engine = create_engine(self.db_url, read_only=True)
        try:
            async with session_factory(engine, read_only=True)() as s:
                rows = (await s.execute(select(Report.source, Report.text))).all()
        finally:
            await engine.dispose()
        out: dict[str, list[str]] = {c: [] for c in CHANNELS}
        for source, text in rows:
            out.setdefault(source, []).extend(TAG.findall(text or ""))
        return out

    async def outbox_states(self) -> dict[tuple[str, str], int]:
        engine = create_engine(self.db_url, read_only=True)
        try:
            async with session_factory(engine, read_only=True)() as s:
                rows = (await s.execute(select(Outbox.source, Outbox.state, func.count())
                                        .group_by(Outbox.source, Outbox.state))).all()
        finally:
            await engine.dispose()
        return {(src, state): n for src, state, n in rows}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])
