"""The staff API as staff and scripts see it."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.domain import Author, Report
from storage.models import Outbox, TicketEvent
from tests.core.helpers import Api, running, service_settings, token_for


def report(i: int, source: str = "lapor", channel: str = "web-form", **kw) -> Report:
    return Report(source=source, channel=channel, external_id=f"e{i}",
                  text=kw.pop("text", f"Keluhan nomor {i}: pelayanan loket {i} sangat lambat"),
                  author=kw.pop("author", Author(handle=f"user{i}", name=f"User {i}")), **kw)


async def test_auth_roles_and_errors(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        agent = await token_for(svc, "ani", "agent")
        admin = await token_for(svc, "root", "admin")
        assert await Api(svc.web_url, None).call("GET", "/api/tickets") == (401, {
            "error": "unauthorized", "detail": "send Authorization: Bearer TOKEN"})
        status, body = await Api(svc.web_url, "adu_wrong").call("GET", "/api/tickets")
        assert status == 401 and body["error"] == "unauthorized"
        status, body = await Api(svc.web_url, agent).call(
            "POST", "/api/users", json={"name": "budi", "role": "admin"})
        assert status == 403 and body["error"] == "forbidden"
        status, body = await Api(svc.web_url, admin).call(
            "POST", "/api/users", json={"name": "budi", "role": "agent"})
        assert status == 201
        status, _ = await Api(svc.web_url, admin).call(
            "POST", "/api/users", json={"name": "budi", "role": "agent"})
        assert status == 409
        status, body = await Api(svc.web_url, agent).call("GET", "/api/tickets/ADU-1999-000001")
        assert status == 404 and body["error"] == "not_found"
        status, body = await Api(svc.web_url, agent).call(
            "PATCH", "/api/tickets/X", data="not json", headers={"Content-Type": "text/plain"})
        assert status == 415
        status, body = await Api(svc.web_url, None).call("GET", "/healthz")
        assert status == 200 and body["status"] == "ok"


async def test_queue_order_filters_and_paging(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        token = await token_for(svc, "ani", "agent")
        api = Api(svc.web_url, token)
        results = await svc.ingestor.submit([report(i) for i in range(7)])
        await svc.ingestor.submit([report(99, source="tg", channel="telegram",
                                          text="Obat kosong di apotek puskesmas")])
        urgent = results[4].ticket_number
        status, _ = await api.call("PATCH", f"/api/tickets/{urgent}", json={"priority": "urgent"})
        assert status == 200
        status, page1 = await api.call("GET", "/api/tickets?limit=3")
        assert status == 200 and len(page1["tickets"]) == 3
        assert page1["tickets"][0]["number"] == urgent
        seen = [t["number"] for t in page1["tickets"]]
        cursor = page1["next_cursor"]
        while cursor:
            _, page = await api.call("GET", f"/api/tickets?limit=3&cursor={cursor}")
            seen += [t["number"] for t in page["tickets"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) == 8
        _, tg = await api.call("GET", "/api/tickets?channel=telegram")
        assert [t["channels"] for t in tg["tickets"]] == [["telegram"]]
        _, found = await api.call("GET", "/api/tickets?q=apotek")
        assert len(found["tickets"]) == 1
        _, none = await api.call("GET", "/api/tickets?state=resolved")
        assert none["tickets"] == []
        status, body = await api.call("GET", "/api/tickets?state=bogus")
        assert status == 400


async def test_patch_and_reply_write_events_and_outbox(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        # A supervisor: agents hand tickets only to their own units (tests/core/test_access).
        token = await token_for(svc, "ani", "supervisor")
        api = Api(svc.web_url, token)
        (first,) = await svc.ingestor.submit([report(1)])
        await svc.ingestor.submit([report(2, text="x", ticket_ref=first.ticket_number,
                                          source="tg", channel="telegram")])
        number = first.ticket_number
        status, body = await api.call("PATCH", f"/api/tickets/{number}", json={
            "state": "in_progress", "assignee": "ani", "unit": "Pelayanan Medis"})
        assert status == 200 and body["state"] == "in_progress" and body["unit"] == \
            "Pelayanan Medis"
        status, body = await api.call("PATCH", f"/api/tickets/{number}", json={"state": "new"})
        assert status == 409
        status, body = await api.call("PATCH", f"/api/tickets/{number}", json={"priority": "x"})
        assert status == 422
        status, body = await api.call("POST", f"/api/tickets/{number}/replies",
                                      json={"text": "Mohon maaf, sedang kami tindak lanjuti."})
        assert status == 202 and body["queued"] == 2
        status, body = await api.call("POST", f"/api/tickets/{number}/replies", json={"text": ""})
        assert status == 422
        _, detail = await api.call("GET", f"/api/tickets/{number}")
        types = [e["type"] for e in detail["events"]]
        assert types[:2] == ["created", "report_added"]
        assert {"state_changed", "assignee_changed", "unit_changed", "reply"} <= set(types)
        assert next(e for e in detail["events"] if e["type"] == "reply")["actor"] == "user:ani"
        assert [r["external_id"] for r in detail["reports"]] == ["e1", "e2"]
        assert sorted(detail["channels"]) == ["telegram", "web-form"]
        async with svc.sessions() as s:
            rows = (await s.execute(select(Outbox.source, Outbox.kind).order_by(Outbox.id))).all()
            assert {tuple(r) for r in rows} == {("lapor", "status"), ("tg", "status"),
                                                ("lapor", "reply"), ("tg", "reply")}
            n = len((await s.execute(select(TicketEvent))).all())
            assert n >= 6


async def test_anonymous_reporter_hidden_below_supervisor(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        agent = Api(svc.web_url, await token_for(svc, "ani", "agent"))
        boss = Api(svc.web_url, await token_for(svc, "kepala", "supervisor"))
        (res,) = await svc.ingestor.submit([report(
            5, author=Author(handle="wb1", name="Pelapor Rahasia", email="r@x.id",
                             anonymous=True))])
        _, seen_by_agent = await agent.call("GET", f"/api/tickets/{res.ticket_number}")
        _, seen_by_boss = await boss.call("GET", f"/api/tickets/{res.ticket_number}")
        assert seen_by_agent["reports"][0]["author"] == {"anonymous": True}
        assert seen_by_boss["reports"][0]["author"]["email"] == "r@x.id"


async def test_a_reply_sent_again_with_its_idempotency_key_is_sent_once(db_url, tmp_path):
    """A client that lost the answer (timeout, restart) sends the same reply again with
    the same Idempotency-Key: one reply event, one message per reporter."""
    async with running(service_settings(db_url, tmp_path)) as svc:
        api = Api(svc.web_url, await token_for(svc, "ani", "agent"))
        (first,) = await svc.ingestor.submit([report(1)])
        path = f"/api/tickets/{first.ticket_number}/replies"
        text = {"text": "Petugas sudah kami arahkan ke lokasi."}
        answers = [await api.call("POST", path, json=text,
                                  headers={"Idempotency-Key": "balas-7f3a"})
                   for _ in range(3)]
        assert answers == [(202, {"ticket": first.ticket_number, "queued": 1})] * 3
        # Another key is another reply (staff may say the same thing twice on purpose).
        assert (await api.call("POST", path, json=text,
                               headers={"Idempotency-Key": "balas-7f3b"}))[0] == 202
        status, body = await api.call("POST", path, json=text,
                                      headers={"Idempotency-Key": "x" * 201})
        assert status == 400 and "Idempotency-Key" in body["detail"]
        _, detail = await api.call("GET", f"/api/tickets/{first.ticket_number}")
        assert [e["type"] for e in detail["events"]].count("reply") == 2
        async with svc.sessions() as s:
            kinds = (await s.execute(select(Outbox.kind))).scalars().all()
        assert kinds.count("reply") == 2
