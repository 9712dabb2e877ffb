"""A complaint blowing up is escalated by policy within a minute: the level rises, the
reason is in the audit log, and a signed notification reaches the configured webhook.
A lone report elsewhere stays at level 0."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from aggregator.config import parse
from storage.models import Ticket, TicketEvent
from tests.connectors.webhook.harness import SECRET, Sender
from tests.core.helpers import Api, running, token_for

HOOK_SECRET = "escalation-signing-key-0123456789"
TEXTS = [
    "KRL tertahan di antara Stasiun Citayam dan Depok sudah {n} menit, AC mati, penumpang "
    "pingsan",
    "Kereta KRL berhenti lama di Citayam arah Depok, sudah {n} menit AC mati dan ada "
    "penumpang pingsan",
]


class Receiver:
    """The operator's notification endpoint: checks our signature like a receiver would."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.bad = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ts, _, mac = request.headers.get("X-Aggregator-Signature", "").partition(",v1=")
        expected = hmac.new(HOOK_SECRET.encode(), ts.removeprefix("t=").encode() + b"." + raw,
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected) or abs(time.time() - int(ts[2:])) > 300:
            self.bad += 1
            return web.Response(status=401)
        self.got.append(await request.json())
        return web.json_response({"ok": True})


def settings(db_url, tmp_path, hook_url: str):
    return parse({
        "database": {"url": db_url}, "web": {"port": 0}, "logging": {"format": "text"},
        "connectors": {"lapor": {"type": "webhook", "secret": SECRET}},
        "virality": {"interval": "1s"},
        "escalation": {
            "enabled": True, "interval": "1s",
            "targets": {"ops": {"url": hook_url, "secret": HOOK_SECRET}},
            "levels": [
                {"name": "piket", "when": [{"virality_level": 1},
                                           {"keywords": ["meninggal"]}],
                 "priority": "high", "notify": ["ops"], "repeat": "30m"},
                {"name": "kepala unit", "when": [{"virality_level": 3}],
                 "priority": "urgent", "notify": ["ops"]},
            ],
        },
    }, base_dir=tmp_path, env={})


async def test_a_burst_escalates_within_a_minute_and_a_lone_report_does_not(db_url, tmp_path):
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/escalation", receiver.handle)
    hook = TestServer(app, host="127.0.0.1")
    await hook.start_server()
    try:
        conf = settings(db_url, tmp_path, str(hook.make_url("/escalation")))
        async with running(conf) as svc, aiohttp.ClientSession() as http:
            sender = Sender(http, f"{svc.web_url}/hooks/lapor")
            status, lone, _ = await sender.post({
                "id": "L-1", "text": "Lampu jalan mati di Jl. Kenanga RT 03 Kota Bogor"})
            assert status in (200, 201, 202)
            await asyncio.sleep(2)  # a quiet start: the watch has seen the lone report
            started = time.monotonic()
            answers = await asyncio.gather(*(sender.post({
                "id": f"B-{i}", "text": TEXTS[i % 2].format(n=20 + i),
                "reporter": {"name": f"Penumpang {i}", "phone": f"08131100{i:02d}"},
            }) for i in range(30)))
            assert all(a[0] in (200, 201, 202) for a in answers)
            numbers = {a[1]["ticket"] for a in answers}
            assert len(numbers) == 1, numbers  # one incident, one ticket
            (number,) = numbers
            while time.monotonic() - started < 60 and not receiver.got:
                await asyncio.sleep(0.2)
            assert receiver.got, "no notification within 60 s"
            assert receiver.got[0]["ticket"] == number and receiver.bad == 0
            assert "viral" in receiver.got[0]["text"]
            async with svc.sessions() as s:
                ticket = (await s.execute(select(Ticket).where(Ticket.number == number))
                          ).scalar_one()
                other = (await s.execute(select(Ticket).where(
                    Ticket.number == lone["ticket"]))).scalar_one()
                events = (await s.execute(select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
                          ).scalars().all()
            assert ticket.escalation_level >= 1 and ticket.priority >= 2
            escalated = [e for e in events if e.type == "escalated"]
            assert escalated and any("viral" in r for r in escalated[0].data["reasons"])
            assert "virality_changed" in [e.type for e in events]
            assert "notified" in [e.type for e in events]
            assert other.escalation_level == 0

            api = Api(svc.web_url, await token_for(svc, "sari", "agent"))
            status, detail = await api.call("GET", f"/api/tickets/{number}")
            assert detail["escalation"]["level"] >= 1 and detail["virality"]["level"] >= 1
            status, ack = await api.call("POST", f"/api/tickets/{number}/escalation/ack")
            assert status == 200 and ack["acknowledged_by"] == "sari"
    finally:
        await hook.close()
