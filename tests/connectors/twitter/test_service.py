"""The X connector inside the whole service.

The bar: a fake X API serves mentions and rising public_metrics to `aggregator run`
(a real subprocess with a config file); each mention is exactly one report,
conversations group, and the rising engagement shows on the ticket through
GET /api/tickets/{number}. Then, in-process, the outbox path: public replies are
posted as reply tweets and a citizen quoting our reply lands on the same ticket.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import parse
from aggregator.runtime.service import Service
from storage.accounts import add_user, create_token
from storage.models import Outbox
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def x_section(fake: FakeX, **extra: Any) -> dict[str, Any]:
    # Polling 5 times a second would spend the default budgets (10 mentions requests
    # per 15 minutes) in two seconds: a test config lifts them, as an operator might.
    lifted = {"per_15min": None, "per_day": None}
    return {"type": "twitter", "bearer_token": "${X_BEARER}", "username": "pemkot_test",
            "api_base_url": fake.url, "poll_interval": 0.2, "backfill_hours": 1,
            "backoff_initial": 0.2, "engagement": {"refresh_interval": 0.2},
            "budgets": {"mentions": lifted, "lookup": lifted}, **extra}


class Staff:
    """The staff API as a script would use it."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str):
        self.http, self.base, self.headers = http, base, {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        async with self.http.request(method, self.base + path, headers=self.headers,
                                     **kw) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json()


async def test_bar_mentions_and_rising_engagement_through_aggregator_run(
    db_url: str, tmp_path: Path, fake_x: FakeX, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ani, budi, citra = (fake_x.user(f"90000000{i}", n) for i, n in
                        enumerate(("ani_w", "budi_w", "citra_w"), 1))
    root = fake_x.tweet("@pemkot_test jalan amblas di Jl. Diponegoro, motor jatuh", ani,
                        metrics={"like_count": 2, "retweet_count": 1})
    fake_x.tweet("", budi, retweet_of=root)
    other = fake_x.tweet("@pemkot_test pungli di loket kelurahan", citra)

    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "database": {"url": db_url}, "web": {"host": "127.0.0.1", "port": port},
        "logging": {"format": "text", "level": "WARNING"},
        "connectors": {"x": x_section(fake_x)},
    }))
    env = {**os.environ, "X_BEARER": fake_x.bearer, "NO_PROXY": "127.0.0.1,localhost"}
    async with sessions() as s, s.begin():  # (the CLI does the same, seconds slower)
        await add_user(s, "ani", "agent")
        token = await create_token(s, "ani")
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aggregator", "--config", str(config), "run",
        env=env, stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            staff = Staff(http, base, token)

            async def tickets() -> list[dict[str, Any]]:
                try:
                    return (await staff.call("GET", "/api/tickets"))["tickets"]
                except aiohttp.ClientConnectionError:
                    return []

            await eventually(lambda: _len_is(tickets(), 2), within=30, what="two tickets")
            # The conversation grows: a reply and a quote while the daemon runs.
            reply = fake_x.tweet("@ani_w @pemkot_test saya juga lihat, sudah 2 korban", budi,
                                 reply_to=root)
            quote = fake_x.tweet("@pemkot_test tolong ditindak", citra, quote=root)
            number = next(t["number"] for t in await tickets()
                          if "amblas" in t["title"])

            async def detail() -> dict[str, Any]:
                return await staff.call("GET", f"/api/tickets/{number}")

            async def grouped() -> bool:
                return len((await detail())["reports"]) == 3

            await eventually(grouped, within=20, what="the conversation on one ticket")
            # Engagement rises while the ticket is open.
            for likes, rts in ((25, 9), (180, 60), (900, 310)):
                fake_x.set_metrics(root, like_count=likes, retweet_count=rts)

                async def seen(likes: int = likes) -> bool:
                    return any(s["metrics"].get("like_count") == likes
                               for s in (await detail())["engagement"])

                await eventually(seen, within=20, what=f"{likes} likes on the ticket")
            # Several more polls: still exactly one report per mention.
            polls = len(fake_x.calls("mentions"))
            await eventually(lambda: len(fake_x.calls("mentions")) >= polls + 3)
            body = await detail()
            listing = await tickets()
            async with http.get(base + "/healthz") as resp:
                health = (await resp.json())["connectors"]["x"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(daemon.communicate(), 30)
    assert daemon.returncode == 0, err.decode()[-2000:]

    assert sorted(r["external_id"] for r in body["reports"]) == sorted([root, reply, quote])
    assert [r["match_reason"] for r in body["reports"]] == ["new", "reply", "reply"]
    root_likes = [s["metrics"]["like_count"] for s in body["engagement"]
                  if s["report_id"] == body["reports"][0]["id"]]
    assert root_likes == [2, 25, 180, 900]  # rising, one sample per change
    assert body["reports"][0]["meta"]["public_metrics"]["like_count"] == 900
    assert len(listing) == 2 and other not in {r["external_id"] for r in body["reports"]}
    assert health["state"] == "running" and health["account_id"] == fake_x.account["id"]
    assert health["quota"]["mentions"]["x_remaining"] is not None  # X's own figure
    assert health["quota"]["users"]["budget_15min_left"] == 2  # default 3, one spent
    assert health["next_run_at"]["mentions"]
    # The account was looked up once by username, then remembered.
    assert len(fake_x.calls("users")) == 1


async def _len_is(coro: Any, n: int) -> bool:
    return len(await coro) == n


async def test_public_replies_through_the_outbox(db_url: str, tmp_path: Path,
                                                 fake_x: FakeX) -> None:
    """reply_publicly on: the ack, a staff reply and the resolution go out as reply
    tweets via the outbox; a citizen quoting our reply tweet joins the same ticket
    (the core matches the quoted id against the outbox's recorded tweet id)."""
    ani = fake_x.user("900000001", "ani_w", "Ani Wulandari")
    root = fake_x.tweet("@pemkot_test saluran got mampet depan SDN 3, bau sekali", ani)
    keys = {k: "k" for k in ("consumer_key", "consumer_secret", "access_token",
                             "access_token_secret")}
    settings = parse({
        "database": {"url": db_url}, "web": {"port": 0}, "logging": {"format": "text"},
        "connectors": {"x": x_section(fake_x, reply_publicly=True, user_auth=keys)},
    }, base_dir=tmp_path, env={"X_BEARER": fake_x.bearer})
    svc = Service(settings)
    svc.outbox.poll_interval, svc.outbox.base_delay = 0.05, 0.05
    await svc.start()
    try:
        async with svc.sessions() as s, s.begin():
            await add_user(s, "sari", "agent")
            token = await create_token(s, "sari")
        async with aiohttp.ClientSession() as http:
            staff = Staff(http, svc.web_url or "", token)
            await eventually(lambda: len(fake_x.posted) == 1, what="the public ack")
            number = (await staff.call("GET", "/api/tickets"))["tickets"][0]["number"]
            ack = fake_x.posted[0]
            assert ack["reply"]["in_reply_to_tweet_id"] == root and number in ack["text"]
            assert "Ani" not in ack["text"] and "ani_w" not in ack["text"]

            await staff.call("POST", f"/api/tickets/{number}/replies",
                             json={"text": "Petugas kebersihan dijadwalkan besok pagi."})
            await eventually(lambda: len(fake_x.posted) == 2, what="the public reply")
            ours = fake_x.posted[1]
            assert ours["text"].startswith("Petugas kebersihan dijadwalkan besok pagi.")

            async def recorded() -> bool:  # the outbox keeps the id X gave our post
                async with svc.sessions() as s:
                    return ours["id"] in set((await s.execute(
                        select(Outbox.external_id).where(Outbox.state == "sent"))).scalars())

            await eventually(recorded, what="our reply's tweet id on the outbox row")
            quote = fake_x.tweet("@pemkot_test besok jam berapa?", ani, quote=ours["id"])

            async def joined() -> bool:
                body = await staff.call("GET", f"/api/tickets/{number}")
                return quote in {r["external_id"] for r in body["reports"]}

            await eventually(joined, what="the quote of our reply on the ticket")
            await staff.call("PATCH", f"/api/tickets/{number}", json={"state": "resolved"})
            await eventually(lambda: len(fake_x.posted) == 3, what="the resolution")
            assert number in fake_x.posted[2]["text"]
            assert "selesai" in fake_x.posted[2]["text"]
        async with svc.sessions() as s:
            rows = (await s.execute(select(Outbox).order_by(Outbox.id))).scalars().all()
        sent = [(r.kind, r.external_id) for r in rows if r.state == "sent"]
        assert sent[:2] == [("ack", ack["id"]), ("reply", ours["id"])]
        # The quote joined an existing conversation: no second public ack for it.
        assert [r.kind for r in rows].count("ack") <= 2
        assert len([p for p in fake_x.posted if "tercatat" in p["text"]]) == 1
    finally:
        await svc.stop()
