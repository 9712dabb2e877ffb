"""The webhook against the whole service: the bar test drives `aggregator run` from
outside; the callback test restarts the service between failed deliveries."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time

import aiohttp
import yaml
from sqlalchemy import select

from aggregator.runtime.service import Service
from storage.accounts import add_user, create_token
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Outbox
from tests.connectors.webhook.harness import SECRET, Sender, complaint, webhook_settings
from tests.connectors.webhook.receiver import receiving
from tests.core.helpers import Api, token_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def staff_token(db_url: str) -> str:
    """An agent's API token, made the way `aggregator tokens create` makes it."""
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            await add_user(session, "ani", "agent")
            return await create_token(session, "ani")
    finally:
        await engine.dispose()


async def test_bar_contract_against_aggregator_run(db_url, tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "database": {"url": db_url},
        "web": {"host": "127.0.0.1", "port": port},
        "logging": {"format": "text", "level": "WARNING"},
        "connectors": {"lapor": {"type": "webhook", "secret": "${LAPOR_SECRET}"}},
    }))
    token = await staff_token(db_url)
    daemon = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aggregator", "--config", str(config), "run",
        env={**os.environ, "LAPOR_SECRET": SECRET}, stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(base + "/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            portal = Sender(http, base + "/hooks/lapor")

            status, new, _ = await portal.post(complaint(1, title="Jalan rusak"))
            assert status == 201 and new["ticket"].startswith("ADU-")
            assert new["status_url"].startswith(base + "/hooks/lapor/status/")
            status, again, _ = await portal.post(complaint(1, title="Jalan rusak"))
            assert status == 200 and again == new
            status, body, _ = await portal.post(complaint(2), secret="wrong-secret-0123456789")
            assert (status, body["error"]) == (401, "unauthorized")
            status, body, _ = await portal.post(complaint(3), ts=time.time() - 3600)
            assert (status, body["error"]) == (401, "unauthorized")
            status, body, _ = await portal.post({"id": "4", "text": "",
                                                 "reporter": {"email": "x"}})
            assert status == 400 and body["error"] == "invalid"
            assert {f["field"] for f in body["fields"]} == {"text", "reporter.email"}
            status, body, _ = await portal.post(complaint(5, text="x" * (2 * 1024 * 1024)))
            assert (status, body["error"]) == (413, "too_large")

            async with http.get(new["status_url"]) as resp:
                assert resp.status == 200 and (await resp.json())["state"] == "new"
            status, listing = await Api(base, token).call("GET", "/api/tickets")
            assert status == 200
            assert [t["number"] for t in listing["tickets"]] == [new["ticket"]]
            status, ticket = await Api(base, token).call("GET", f"/api/tickets/{new['ticket']}")
            assert [r["external_id"] for r in ticket["reports"]] == ["LAPOR-1"]
            async with http.get(base + "/healthz") as resp:
                health = (await resp.json())["connectors"]["lapor"]
            assert health["state"] == "running" and health["answers"]["201"] == 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(daemon.communicate(), 30)
    assert daemon.returncode == 0, err.decode()[-2000:]


def fast_outbox(svc: Service) -> Service:
    svc.outbox.base_delay, svc.outbox.max_delay, svc.outbox.poll_interval = 0.05, 0.2, 0.05
    return svc


async def row_state(svc: Service, key: str) -> tuple[str, int, object]:
    outbox_id = int(key.split(":")[1])
    async with svc.sessions() as s:
        row = await s.get(Outbox, outbox_id)
        return row.state, row.attempts, row.claimed_until


async def test_callback_retried_across_a_restart_and_sent_once(db_url, tmp_path):
    """The receiver refuses the first 3 deliveries of each callback; the daemon is
    stopped while a delivery is under way and started again. Every callback is
    accepted exactly once, with the same body and idempotency key each time."""
    async with receiving(SECRET.encode(), fail_first=3) as rec:
        settings = webhook_settings(db_url, tmp_path, callback_url=rec.url)

        first = fast_outbox(Service(settings))
        await first.start()
        try:
            portal = Sender(aiohttp.ClientSession(), first.web_url + "/hooks/lapor")
            _, created, _ = await portal.post(complaint(1))
            await portal.http.close()
            token = await token_for(first, "ani", "agent")
            status, _ = await Api(first.web_url, token).call(
                "POST", f"/api/tickets/{created['ticket']}/replies",
                json={"text": "Laporan diteruskan ke Dinas PU"})
            assert status == 202
            await rec.wait_for(1)
            key = rec.calls[0]["body"]["idempotency_key"]
            await rec.until(lambda: len(rec.calls_for(key)) >= 2)
            rec.gate.clear()  # the next delivery hangs: stop the daemon under it
            await asyncio.wait_for(rec.held.wait(), 20)
        finally:
            await first.stop()
        before_restart = len(rec.calls)
        rec.gate.set()

        second = fast_outbox(Service(settings))
        await second.start()
        try:
            async def all_sent() -> bool:
                async with second.sessions() as s:
                    states = (await s.execute(select(Outbox.state))).scalars().all()
                return bool(states) and set(states) == {"sent"}

            for _ in range(500):
                if await all_sent():
                    break
                await asyncio.sleep(0.02)
            async with second.sessions() as s:
                rows = (await s.execute(select(Outbox))).scalars().all()
            # Nothing is due any more: another round sends nothing.
            assert await second.outbox.run_once() == 0
        finally:
            await second.stop()

    assert len(rec.calls) > before_restart
    assert {r.kind for r in rows} == {"reply", "status"}  # the reply also moved the state
    assert all(r.state == "sent" for r in rows), [
        (r.kind, r.state, r.attempts, r.claimed_until, r.next_attempt_at) for r in rows]
    assert all(c["signature_ok"] for c in rec.calls)
    # Each callback: three refusals (one of them cut off by the stop), one 2xx, no more.
    keys = sorted(f"lapor:{r.id}" for r in rows)
    assert sorted({c["body"]["idempotency_key"] for c in rec.calls}) == keys
    for k in keys:
        bodies = [c["body"] for c in rec.calls_for(k)]
        assert bodies == [bodies[0]] * 4
    assert len(rec.accepted) == len(rows)
    reply = next(c["body"] for c in rec.accepted if c["body"]["event"] == "reply")
    assert reply["idempotency_key"] == key and reply["at"] is not None
    assert reply | {"at": None, "state": None} == {
        "event": "reply", "idempotency_key": key, "id": "LAPOR-1", "ids": ["LAPOR-1"],
        "ticket": created["ticket"], "state": None, "at": None,
        "reply": {"text": "Laporan diteruskan ke Dinas PU", "staff": "ani"},
    }


async def test_state_change_reaches_the_callback(db_url, tmp_path):
    async with receiving(SECRET.encode()) as rec:
        settings = webhook_settings(db_url, tmp_path, callback_url=rec.url)
        async with Service(settings) as svc:
            portal = Sender(aiohttp.ClientSession(), svc.web_url + "/hooks/lapor")
            _, created, _ = await portal.post(complaint(1))
            _, anon, _ = await portal.post(complaint(2, thread_id="LAPOR-1",
                                                     reporter={"anonymous": True,
                                                               "phone": "0811223344"}))
            await portal.http.close()
            assert anon["ticket"] == created["ticket"]
            token = await token_for(svc, "ani", "agent")
            status, _ = await Api(svc.web_url, token).call(
                "PATCH", f"/api/tickets/{created['ticket']}", json={"state": "resolved"})
            assert status == 200
            await rec.wait_for(2)
            async with svc.sessions() as s:
                acks = (await s.execute(select(Outbox.kind))).scalars().all()
            assert "ack" not in acks
    bodies = sorted((c["body"] for c in rec.calls), key=lambda b: b["id"])
    # One callback per reporter of the ticket, each naming that reporter's report.
    assert [(b["event"], b["id"], b["state"], b["previous_state"]) for b in bodies] == [
        ("status", "LAPOR-1", "resolved", "new"), ("status", "LAPOR-2", "resolved", "new")]
    assert "811223344" not in json.dumps(bodies)
