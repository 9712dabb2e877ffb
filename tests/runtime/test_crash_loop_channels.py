"""Crash loop for the polling channels. One daemon runs a mailbox (real Dovecot, SMTP
sink), a Telegram bot (fake Bot API) and an X account (fake X API) at once; it is
killed with SIGKILL at random moments while citizens write on all three and staff
reply, and restarted, twenty times. Afterwards, per channel: every mail, update and
mention is stored exactly once; every report's acknowledgement reached the citizen at
least once, with its ticket number, and is one outbox row marked sent; every staff
reply arrived in the order written, as the channel itself saw them."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from aggregator.delivery.queue import Outgoing, queue
from aggregator.messages import StaffNotice
from connectors.twitter.settings import ENDPOINTS
from storage.accounts import add_user, create_token
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import Lease, Outbox, Report, Ticket
from storage.types import utcnow
from tests.connectors.email.dovecot import PASSWORD, Dovecot
from tests.connectors.email.mails import AGENCY, complaint, distinct_text
from tests.connectors.email.sink import SmtpSink
from tests.connectors.telegram.fake_bot_api import FakeBotAPI
from tests.connectors.telegram.harness import ticket_number_in
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.test_service import x_section
from tests.core.daemon import Daemon, free_port, write_config
from tests.core.helpers import running, service_settings

CYCLES = 20
SEED = 20261130
TG_USERS, X_USERS = 7_000_000, 800_000_000  # one citizen per report: acks in parallel
REPLY_GAP = 0.5  # seconds between two staff replies to a ticket
# X lets an account post 200 times in 15 minutes (the fake counts like X, refused
# duplicates included, and the connector waits for the window when it is spent): at
# most 60 mentions (one ack each) and 25 replies, with room for repeats after kills.
# A kill soon after a restart catches the backlog's acks sent and not yet recorded,
# so repeats reach about one per message (18 to 82 for 85 mentions, seen in runs).
X_MENTIONS, MAX_REPLIES = 60, 25
REPLY = "Tanggapan {k}: petugas sudah meninjau lokasi dan menindaklanjuti laporan ini"
REPLY_K = re.compile(r"Tanggapan (\d+):")


@dataclass
class Feed:
    """One channel as the public uses it: `push(i)` sends report i upstream and
    returns the external id the service stores it under."""

    source: str
    push: Callable[[int], Awaitable[str]]
    gap: float  # seconds between two reports
    limit: int | None = None  # the public stops writing here after this many
    sent: list[str] = field(default_factory=list)

    async def stream(self, stop: asyncio.Event) -> None:
        # Stopped by the event, not cancelled: a cancelled IMAP APPEND may still land.
        while not stop.is_set():
            if self.limit is None or len(self.sent) < self.limit:
                self.sent.append(await self.push(len(self.sent)))
            await asyncio.sleep(self.gap)


@dataclass(frozen=True)
class Seen:
    """A message the channel received from us: its identity there, the ticket number
    it carries and, for a staff reply, which one."""

    key: str
    number: str
    k: int | None = None


@dataclass
class Capture:
    acks: dict[str, list[Seen]]  # report external id -> acknowledgements of it
    replies: list[Seen]  # staff replies in the order the channel received them
    one_copy: bool  # the channel dedupes a repeated send itself


def feeds(dovecot: Dovecot, user: str, bot: FakeBotAPI, x: FakeX) -> list[Feed]:
    async def mail(i: int) -> str:
        raw = complaint(i, text=distinct_text(i), date=datetime.now(UTC))  # written now
        await asyncio.to_thread(dovecot.append, user, [raw])
        return f"c{i}.warga{i}@mail.example.id"

    async def telegram(i: int) -> str:
        msg = bot.message(TG_USERS + i, distinct_text(10_000 + i))
        return f"{TG_USERS + i}:{msg['message_id']}"

    async def mention(i: int) -> str:
        author = x.user(str(X_USERS + i), f"warga_x{i}")
        return x.tweet(f"@{x.account['username']} {distinct_text(20_000 + i)}", author)

    return [Feed("mail", mail, 0.4), Feed("tg", telegram, 0.3),
            Feed("x", mention, 1.2, limit=X_MENTIONS)]


def connectors(dovecot: Dovecot, user: str, sink: SmtpSink, bot: FakeBotAPI,
               x: FakeX) -> dict[str, Any]:
    lifted = {"per_15min": None, "per_day": None}
    keys = {k: "k" for k in ("consumer_key", "consumer_secret", "access_token",
                             "access_token_secret")}
    return {
        "mail": {"type": "email",
                 "imap": {"host": dovecot.host, "port": dovecot.port, "security": "plain",
                          "username": user, "password": PASSWORD, "poll_interval": 0.2,
                          "timeout": 10, "batch_size": 4},  # more commits: more to hit
                 "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "plain",
                          "from_address": AGENCY, "from_name": "Layanan Aduan"}},
        "tg": {"type": "telegram", "token": "${TG_TOKEN}", "api_base_url": bot.url,
               "poll_timeout": 2},
        # Public replies on: the ack and staff replies are reply posts. No engagement
        # refresh (not what this test is about) and no budgets of our own; account_id
        # given, so no user lookup either. Polls every 0.5 s stay inside X's 450
        # mentions requests per 15 minutes.
        "x": x_section(x, account_id=x.account["id"], poll_interval=0.5,
                       engagement={"enabled": False}, reply_publicly=True, user_auth=keys,
                       budgets={name: lifted for name in ENDPOINTS}),
    }


def mail_capture(sink: SmtpSink) -> Capture:
    acks: dict[str, list[Seen]] = defaultdict(list)
    replies = []
    for m in sink.messages:
        seen = Seen(m["Message-ID"].strip("<>"), m["X-Aduan-Ticket"])
        if found := REPLY_K.search(m.get_content()):
            replies.append(Seen(seen.key, seen.number, int(found.group(1))))
        elif m["In-Reply-To"]:
            acks[m["In-Reply-To"].strip("<>")].append(seen)
    return Capture(acks, replies, one_copy=True)  # a repeat carries the same Message-ID


def telegram_capture(bot: FakeBotAPI) -> Capture:
    acks: dict[str, list[Seen]] = defaultdict(list)
    replies = []
    for m in bot.sent:
        seen = Seen(f"{m['chat_id']}:{m['message_id']}", ticket_number_in(m["text"]))
        if found := REPLY_K.search(m["text"]):
            replies.append(Seen(seen.key, seen.number, int(found.group(1))))
        elif answered := (m.get("reply_parameters") or {}).get("message_id"):
            acks[f"{m['chat_id']}:{answered}"].append(seen)
    return Capture(acks, replies, one_copy=False)  # the Bot API has no idempotency key


def x_capture(x: FakeX) -> Capture:
    acks: dict[str, list[Seen]] = defaultdict(list)
    replies = []
    for p in x.posted:
        seen = Seen(p["id"], ticket_number_in(p["text"]))
        if found := REPLY_K.search(p["text"]):
            replies.append(Seen(seen.key, seen.number, int(found.group(1))))
        else:
            acks[str(p["reply"]["in_reply_to_tweet_id"])].append(seen)
    return Capture(acks, replies, one_copy=True)  # X refuses a duplicate post


def recorded(row: Outbox, keys: set[str]) -> bool:
    """The id the outbox recorded is one the channel gave. (X answers a repeat with
    "duplicate content" and no id, so there may be none to record.)"""
    return row.external_id in keys or (row.source == "x" and row.external_id is None)


async def reply_once(http: aiohttp.ClientSession, base: str, token: str, number: str,
                     text: str) -> None:
    """Post a staff reply once, as a careful script would: when the answer is lost
    (the daemon died), look at the ticket before trying again."""
    auth = {"Authorization": f"Bearer {token}"}
    while True:
        try:
            async with http.post(f"{base}/api/tickets/{number}/replies", json={"text": text},
                                 headers=auth) as resp:
                if resp.status == 202:
                    return
        except (aiohttp.ClientError, OSError):
            pass
        while True:
            try:
                async with http.get(f"{base}/api/tickets/{number}", headers=auth) as resp:
                    if resp.status == 200:
                        events = (await resp.json())["events"]
                        if any(e["type"] == "reply" and e["data"].get("text") == text
                               for e in events):
                            return
                        break
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)


async def running_here(http: aiohttp.ClientSession, daemon: Daemon, names: list[str]) -> bool:
    """Whether every polling connector runs in this process (holds its lease)."""
    try:
        async with http.get(f"{daemon.url}/healthz") as resp:
            found = (await resp.json())["connectors"]
    except (aiohttp.ClientError, KeyError):
        return False
    return all(found.get(n, {}).get("lease") == "held" for n in names)


async def leases_held(http: aiohttp.ClientSession, daemon: Daemon, names: list[str],
                      within: float = 30.0) -> float:
    """Seconds until every polling connector runs in this process."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        if await running_here(http, daemon, names):
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise AssertionError(f"connectors did not take their leases: {daemon.log()[-2000:]}")


async def until(check: Callable[[], Awaitable[bool]], within: float,
                what: str | Callable[[], str], daemon: Daemon) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            about = what if isinstance(what, str) else what()
            raise AssertionError(f"timed out waiting for {about}; daemon log:\n"
                                 f"{daemon.log()[-3000:]}")
        await asyncio.sleep(0.2)



@pytest.mark.timeout(400)
async def test_twenty_kills_on_three_polling_channels(db_url, tmp_path, dovecot):
    rnd = random.Random(SEED)
    engine = create_engine(db_url)
    async with session_factory(engine)() as s, s.begin():
        await add_user(s, "sari", "agent")
        token = await create_token(s, "sari")
    await engine.dispose()
    # Look without queueing for SQLite's write lock (the daemon writes all the time).
    engine = create_engine(db_url, read_only=True)
    sessions = session_factory(engine, read_only=True)

    async def stored() -> dict[str, list[tuple[str, str]]]:
        """Per source: (external id, ticket number) of every stored report."""
        async with sessions() as s:
            rows = await s.execute(select(Report.source, Report.external_id, Ticket.number)
                                   .join(Ticket, Ticket.id == Report.ticket_id))
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for source, ext, number in rows:
            out[source].append((ext, number))
        return out

    user = dovecot.new_user()
    sink = SmtpSink().start()
    bot, x = FakeBotAPI(), FakeX()
    await bot.start()
    await x.start()
    port = free_port()
    # Near-duplicate folding off: every report is its own ticket, so each owes an ack.
    config = write_config(tmp_path / "config.yaml", db_url, port,
                          connectors(dovecot, user, sink, bot, x), dedup={"enabled": False})
    daemon = Daemon(config, port, env={"TG_TOKEN": bot.token, "X_BEARER": x.bearer})
    chans = feeds(dovecot, user, bot, x)
    names = [f.source for f in chans]
    stop = asyncio.Event()
    written: dict[str, list[int]] = {n: [] for n in names}
    try:
        async with aiohttp.ClientSession() as http:
            await daemon.start(ready_within=30)
            # The first report of each channel opens the ticket staff answer there.
            for f in chans:
                f.sent.append(await f.push(0))

            async def first_stored() -> bool:
                have = await stored()
                return all(f.sent[0] in dict(have[f.source]) for f in chans)

            await until(first_stored, 30, "the first report of each channel", daemon)
            have = await stored()
            numbers = {f.source: dict(have[f.source])[f.sent[0]] for f in chans}

            async def staff(source: str) -> None:
                """One agent per ticket, each reply written after the last was taken."""
                while not stop.is_set() and len(written[source]) < MAX_REPLIES:
                    await asyncio.sleep(REPLY_GAP)
                    k = len(written[source])
                    await reply_once(http, daemon.url, token, numbers[source],
                                     REPLY.format(k=k))
                    written[source].append(k)

            writers = [asyncio.create_task(f.stream(stop)) for f in chans]
            writers += [asyncio.create_task(staff(n)) for n in names]
            starts, waits, busy = [], [], 0
            try:
                for cycle in range(CYCLES):
                    # Every other kill lands while the connectors run; the others at
                    # any moment once the daemon answers. (On PostgreSQL a restarted
                    # daemon waits out the dead one's leases, up to 8 s: those kills
                    # hit it on standby, its outbox and API still at work.)
                    if cycle % 2 == 0:
                        waits.append(await leases_held(http, daemon, names))
                    await asyncio.sleep(rnd.uniform(0.2, 1.6))
                    busy += await running_here(http, daemon, names)
                    await daemon.kill()
                    starts.append(await daemon.start(ready_within=30))
            finally:
                stop.set()
                await asyncio.gather(*writers)

            left: dict[str, Any] = {}

            async def settled() -> bool:
                have = await stored()
                async with sessions() as s:
                    pending = (await s.execute(select(Outbox).where(Outbox.state == "pending")
                                               .order_by(Outbox.id))).scalars().all()
                left["unstored"] = {f.source: len(f.sent) - len(have[f.source]) for f in chans}
                left["X posts of 200"] = len(x.calls("create"))  # a spent window waits
                left["pending"] = [(o.id, o.source, o.kind, o.recipient, o.attempts,
                                    o.claimed_until, o.next_attempt_at, o.last_error)
                                   for o in pending[:10]] + [len(pending)]
                return not pending and not any(left["unstored"].values())

            await until(settled, 90, lambda: f"every report stored and message sent: {left}",
                        daemon)
            code, _ = await daemon.terminate()
            assert code == 0, daemon.log()[-3000:]
    finally:
        await daemon.kill()
        await bot.close()
        await x.stop()
        sink.stop()

    have = await stored()
    async with sessions() as s:
        rows = (await s.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
    await engine.dispose()
    captures = {"mail": mail_capture(sink), "tg": telegram_capture(bot), "x": x_capture(x)}
    repeats = {}
    for f in chans:
        src, cap = f.source, captures[f.source]
        ids = [ext for ext, _ in have[src]]
        number_of = dict(have[src])
        assert len(ids) == len(set(ids)), f"{src}: a report stored twice"
        assert set(ids) == set(f.sent), f"{src}: lost {set(f.sent) - set(ids)}"
        # One ack row per report, sent; the channel got it at least once, with the
        # report's own ticket number, and what we recorded is what it got.
        acks = [r for r in rows if r.source == src and r.kind == "ack"]
        assert Counter(r.payload["report_external_id"] for r in acks) == Counter(f.sent), src
        for r in acks:
            ext = r.payload["report_external_id"]
            got = cap.acks.get(ext, [])
            assert r.state == "sent" and got, (src, ext, r.state)
            assert {g.number for g in got} == {number_of[ext]}, (src, ext, got)
            if cap.one_copy:
                assert len({g.key for g in got}) == 1, (src, ext, got)
            assert recorded(r, {g.key for g in got}), (src, ext)
        # Every staff reply: one sent row, first delivered in the order written.
        # (Delivery is at least once: a repeat after a kill may follow, never precede.)
        replies = [r for r in rows if r.source == src and r.kind == "reply"]
        assert len(replies) == len(written[src]) and all(r.state == "sent" for r in replies)
        unique = list({s.key: s for s in cap.replies}.values())  # one per identity
        firsts = list(dict.fromkeys(s.k for s in unique))
        assert firsts == written[src], (src, [s.k for s in unique], written[src])
        if cap.one_copy:
            assert len(unique) == len(firsts), (src, [s.k for s in unique])
        assert {s.number for s in unique} == {numbers[src]}, src
        assert all(recorded(r, {s.key for s in unique}) for r in replies), src
        repeats[src] = (sum(len(v) for v in cap.acks.values()) - len(acks),
                        len(unique) - len(firsts))
    assert all(len(f.sent) > 10 for f in chans) and all(written.values())
    print(f"restarts: median {sorted(starts)[len(starts) // 2]:.2f} s; connectors took "
          f"their leases after median {sorted(waits)[len(waits) // 2]:.2f} s; "
          f"{busy} of {CYCLES} kills while they ran")
    print("reports:", {f.source: len(f.sent) for f in chans}, "replies:",
          {k: len(v) for k, v in written.items()}, "repeats (acks, replies):", repeats,
          "X duplicate refusals:", len(x.calls("create", 403)))


async def test_a_restart_frees_what_a_killed_daemon_held(db_url, tmp_path):
    """What the kills showed: a daemon restarted after SIGKILL waited out the dead one's
    leases (its connectors idle for seconds, an hourly job for hours) and outbox claims.
    On SQLite the run lock proves the old process dead, so they are freed at start; on
    PostgreSQL another live process may hold them, so they stand until they expire."""
    settings = service_settings(db_url, tmp_path)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    later = utcnow() + timedelta(hours=1)
    async with sessions() as s, s.begin():
        s.add(Lease(name="job:virality", holder="gone:4242:dead00", expires_at=later))
        await queue(s, [Outgoing("mail", StaffNotice("duty@pemkot.example.id", "s", "t"))])
        await s.execute(update(Outbox).values(claimed_until=later))
    try:
        async with running(settings) as svc:
            deadline = time.monotonic() + 3  # the job's first round comes at start
            while not (holding := svc.health()["jobs"]["virality"]["holding"]):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        async with sessions() as s:
            claimed = (await s.execute(select(Outbox.claimed_until))).scalar_one()
    finally:
        await engine.dispose()
    if is_sqlite(db_url):
        assert holding and claimed is None
    else:
        assert not holding and claimed is not None
