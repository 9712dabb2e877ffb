"""The signed intake as senders really call it: header spellings, compressed bodies,
reporters who give only a name, and links that must point at us."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from sqlalchemy import select

from connectors.webhook.signing import sign_headers
from storage.models import Report as ReportRow
from storage.models import Reporter
from tests.core.helpers import Api, running, service_settings, token_for
from tests.security.rawhttp import request

SECRET = "edge-test-secret-8c1f2d9a0b"


def settings(db_url, tmp_path, **web):
    return service_settings(db_url, tmp_path, web={"port": 0, **web}, connectors={
        "lapor": {"type": "webhook", "secret": SECRET}})


def signed(body: bytes, **headers: str) -> dict[str, str]:
    return {"Content-Type": "application/json",
            **sign_headers(SECRET.encode(), body, time.time()), **headers}


def doc(i: int, **kw) -> bytes:
    return json.dumps({"id": f"E-{i}", "text": f"Sampah menumpuk di pasar blok {i}",
                       **kw}).encode()


@pytest.fixture
async def svc(db_url, tmp_path):
    async with running(settings(db_url, tmp_path)) as service:
        yield service


@pytest.mark.parametrize("content_type", [
    "application/json; charset=UTF-8", 'application/json; charset="utf-8"',
    "Application/JSON;Charset=\"UTF-8\"", "application/json;charset=utf8",
    "APPLICATION/JSON"])
async def test_json_in_utf8_is_accepted_however_it_is_spelled(svc, content_type):
    body = doc(1)
    answer = await request(svc.web_url, "POST", "/hooks/lapor", body=body,
                           headers=signed(body, **{"Content-Type": content_type}))
    assert answer.status == 201, answer.body


@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1",
                                          'application/json; charset="ISO-8859-1"',
                                          "text/plain", "application/jsonx", ""])
async def test_other_media_types_get_a_clear_415(svc, content_type):
    body = doc(2)
    answer = await request(svc.web_url, "POST", "/hooks/lapor", body=body,
                           headers=signed(body, **{"Content-Type": content_type}))
    assert answer.status == 415
    assert answer.json()["error"] == "unsupported_media_type"
    assert "UTF-8" in answer.json()["detail"] or "application/json" in answer.json()["detail"]


async def test_a_corrupt_gzip_body_is_a_400_and_stores_nothing(svc):
    body = doc(3)
    broken = gzip.compress(body)[:12] + b"\x00garbage\xff" * 4
    answer = await request(svc.web_url, "POST", "/hooks/lapor", body=broken,
                           headers=signed(body, **{"Content-Encoding": "gzip"}))
    assert answer.status == 400 and answer.json()["error"] == "bad_request"
    answer = await request(svc.web_url, "POST", "/hooks/lapor", body=gzip.compress(body),
                           headers=signed(body, **{"Content-Encoding": "gzip"}))
    assert answer.status == 201  # the signature covers the body after decoding
    async with svc.read_sessions() as s:
        assert len((await s.execute(select(ReportRow.id))).all()) == 1


async def test_a_reporter_who_gives_only_a_name_keeps_it(svc):
    for i, name in ((4, "Budi Santoso"), (5, "budi  santoso "), (6, "Siti")):
        body = doc(i, reporter={"name": name})
        answer = await request(svc.web_url, "POST", "/hooks/lapor", body=body,
                               headers=signed(body))
        assert answer.status == 201
    async with svc.read_sessions() as s:
        rows = (await s.execute(select(ReportRow.external_id, Reporter.name, Reporter.handle)
                                .join(Reporter, Reporter.id == ReportRow.reporter_id)
                                .order_by(ReportRow.id))).all()
    assert [r[:2] for r in rows] == [("E-4", "Budi Santoso"), ("E-5", "Budi Santoso"),
                                     ("E-6", "Siti")]
    assert rows[0].handle == rows[1].handle != rows[2].handle
    assert rows[0].handle.startswith("name:") and "budi" not in rows[0].handle.lower()
    api = Api(svc.web_url, await token_for(svc, "ani", "agent"))
    _, listing = await api.call("GET", "/api/tickets")
    number = next(t["number"] for t in listing["tickets"] if "blok 6" in t["title"])
    _, ticket = await api.call("GET", f"/api/tickets/{number}")
    assert ticket["reports"][0]["author"]["name"] == "Siti"
    assert ticket["reports"][0]["meta"]["reporter"] == {"name_only": True}


async def test_status_url_never_comes_from_the_host_header(svc):
    body = doc(7)
    answer = await request(svc.web_url, "POST", "/hooks/lapor", body=body,
                           headers={**signed(body), "X-Forwarded-Host": "evil.example"})
    assert answer.json()["status_url"].startswith(svc.web_url + "/hooks/lapor/status/")
    body = doc(8)
    forged = await _post_with_host(svc.web_url, body, "evil.example")
    assert forged["status_url"].startswith(svc.web_url + "/hooks/lapor/status/")
    assert "evil" not in forged["status_url"]


async def test_status_url_uses_public_url_when_set(db_url, tmp_path):
    async with running(settings(db_url, tmp_path,
                                public_url="https://aduan.example.go.id/")) as svc:
        forged = await _post_with_host(svc.web_url, doc(9), "evil.example")
    assert forged["status_url"].startswith("https://aduan.example.go.id/hooks/lapor/status/")


async def _post_with_host(base: str, body: bytes, host: str) -> dict:
    answer = await request(base, "POST", "/hooks/lapor", body=body, headers=signed(body),
                           host=host)
    assert answer.status == 201, answer.body
    return answer.json()
