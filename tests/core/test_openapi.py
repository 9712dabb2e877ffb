"""GET /api/openapi.json describes the API the service really serves: every /api route
is in it, and real answers of every operation validate against its schemas."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import insert

from aggregator.domain import Author, Report
from storage.models import Outbox
from storage.types import utcnow
from tests.core.helpers import Api, running, service_settings, token_for

ESCALATION = {"enabled": True, "interval": "1s", "levels": [
    {"name": "piket", "when": [{"keywords": ["wartawan"]}], "priority": "high"}]}


class Checked:
    def __init__(self, api: Api, doc: dict[str, Any]):
        self.api, self.doc, self.seen = api, doc, set()

    async def call(self, method: str, template: str, path: str, expect: int, **kw: Any
                   ) -> Any:
        status, body = await self.api.call(method.upper(), path, **kw)
        assert status == expect, (method, path, status, body)
        op = self.doc["paths"][template][method]
        response = op["responses"][str(status)]
        schema = response["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": self.doc["components"]})
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, (method, path, [e.message for e in errors[:3]])
        self.seen.add((method, template))
        return body

    async def download(self, path: str) -> str:
        """A CSV export: documented as text/csv, answered as text/csv."""
        import aiohttp

        async with aiohttp.ClientSession() as http, http.get(
            self.api.base + path, headers={"Authorization": f"Bearer {self.api.token}"}
        ) as resp:
            assert resp.status == 200 and resp.content_type == "text/csv", path
            body = await resp.text()
        template = path.split("?")[0]
        assert "text/csv" in self.doc["paths"][template]["get"]["responses"]["200"]["content"]
        self.seen.add(("get", template))
        return body


async def test_the_document_matches_the_routes_and_the_answers(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path, escalation=ESCALATION)
    async with running(settings) as svc:
        admin = Api(svc.web_url, await token_for(svc, "root", "admin"))
        status, doc = await Api(svc.web_url, None).call("GET", "/api/openapi.json")
        assert status == 200 and doc["openapi"] == "3.1.0"
        for schema in doc["components"]["schemas"].values():
            Draft202012Validator.check_schema(schema)

        assert svc._runner is not None
        served = {(r.method.lower(), r.resource.canonical)
                  for r in svc._runner.app.router.routes()
                  if r.resource is not None and r.method != "HEAD"
                  and (r.resource.canonical.startswith("/api/")
                       or r.resource.canonical == "/healthz")}
        documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
        assert served == documented

        results = await svc.ingestor.submit([
            Report(source="lapor", channel="web-form", external_id=str(i), text=text,
                   author=Author(handle=f"w{i}", name=f"Warga {i}"))
            for i, text in enumerate(["Jalan rusak di Jl. Melati", "Lampu jalan mati",
                                      "Sampah menumpuk di pasar, sudah ada wartawan"])])
        a, b, c = (r.ticket_number for r in results)
        await svc.ingestor.submit([Report(
            source="lapor", channel="sms-1708", external_id="3", text="Jalan Melati rusak",
            ticket_ref=a, author=Author(handle="w3"))])
        async with svc.sessions() as s, s.begin():
            now = utcnow()
            await s.execute(insert(Outbox).values(
                source="lapor", kind="reply", recipient="t:1", payload={}, state="dead",
                attempts=25, next_attempt_at=now, created_at=now, last_error="503"))
        check = Checked(admin, doc)
        t = "/api/tickets/{number}"
        await check.call("get", "/healthz", "/healthz", 200)
        await check.call("get", "/api/openapi.json", "/api/openapi.json", 200)
        page = await check.call("get", "/api/tickets", "/api/tickets?q=jalan", 200)
        assert page["tickets"][0]["match"]["highlights"]
        await check.call("get", "/api/tickets", "/api/tickets?state=bogus", 400)
        detail = await check.call("get", t, f"/api/tickets/{a}", 200)
        await check.call("get", t, "/api/tickets/ADU-1999-000001", 404)
        await check.call("patch", t, f"/api/tickets/{a}", 200, json={"priority": "high"})
        await check.call("patch", t, f"/api/tickets/{a}", 422, json={"priority": "top"})
        await check.call("post", t + "/replies", f"/api/tickets/{a}/replies", 202,
                         json={"text": "Sedang kami tangani."})
        await check.call("post", t + "/notes", f"/api/tickets/{a}/notes", 201,
                         json={"text": "Hubungi Dinas PU dulu."})
        await check.call("post", t + "/notes", f"/api/tickets/{a}/notes", 422, json={"x": 1})
        await check.call("post", t + "/merge", f"/api/tickets/{b}/merge", 200, json={"into": a})
        await check.call("post", "/api/reports/{report_id}/split",
                         f"/api/reports/{detail['reports'][0]['id']}/split", 201)
        for _ in range(100):  # the escalation job runs every second
            if (await admin.call("GET", f"/api/tickets/{c}"))[1]["escalation"]["level"]:
                break
            await asyncio.sleep(0.1)
        await check.call("post", t + "/escalation/ack", f"/api/tickets/{c}/escalation/ack", 200)
        await check.call("post", t + "/escalation/ack", f"/api/tickets/{b}/escalation/ack", 409)
        dead = await check.call("get", "/api/outbox", "/api/outbox?state=dead", 200)
        await check.call("post", "/api/outbox/{id}/retry",
                         f"/api/outbox/{dead['messages'][0]['id']}/retry", 202)
        figures = await check.call("get", "/api/stats", "/api/stats", 200)
        assert figures
        assert (await check.download("/api/stats.csv")).strip()
        assert (await check.download("/api/tickets.csv")).strip()
        await check.call("get", "/api/users", "/api/users", 200)
        await check.call("post", "/api/users", "/api/users", 201,
                         json={"name": "budi", "role": "agent"})
        await check.call("patch", "/api/users/{name}", "/api/users/budi", 200,
                         json={"units": ["Bina Marga"]})
        tokens = await check.call("get", "/api/tokens", "/api/tokens", 200)
        await check.call("delete", "/api/tokens/{token_id}",
                         f"/api/tokens/{tokens['tokens'][0]['id']}", 200)
        assert {(m, p) for m, p in documented} - check.seen == set()


@pytest.mark.parametrize("doc, detail", [
    ({"text": 5}, "valid string"), ({"text": "x", "report_id": "7"}, "valid integer"),
    ({"text": "x", "everyone": "yes"}, "valid boolean"), ({"text": "x", "bcc": 1}, "unknown")])
async def test_reply_bodies_are_validated_by_the_model(db_url, tmp_path, doc, detail):
    async with running(service_settings(db_url, tmp_path)) as svc:
        (r,) = await svc.ingestor.submit([Report(
            source="lapor", channel="web-form", external_id="1", text="Air keruh",
            author=Author(handle="w1"))])
        api = Api(svc.web_url, await token_for(svc, "ani", "agent"))
        status, body = await api.call("POST", f"/api/tickets/{r.ticket_number}/replies",
                                      json=doc)
        assert status == 422 and detail in body["detail"], body
