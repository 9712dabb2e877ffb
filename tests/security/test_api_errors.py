"""Inputs that used to answer 500: each now gets a clear 4xx, and nothing unstorable
(NUL characters, lone surrogates) reaches the database."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from sqlalchemy import func, select

from aggregator.domain import Author, Report
from storage.models import Outbox, Ticket
from tests.core.helpers import Api, running, service_settings, token_for
from tests.security.rawhttp import request


@pytest.fixture
async def env(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        (res,) = await svc.ingestor.submit([Report(
            source="lapor", channel="web-form", external_id="1",
            text="Pelayanan KTP lambat sekali", author=Author(handle="0812", name="Ani"))])
        token = await token_for(svc, "root", "admin")
        yield svc, token, res.ticket_number


def auth(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("value", [b"\xff\xfe\xfd", b"adu_\xc3\x28", b"\xe9t\xe9",
                                   b"adu_{<tok>}", b"a b c"])
async def test_a_bearer_token_that_cannot_be_ours_is_401(env, value):
    svc, _, _ = env
    answer = await request(svc.web_url, "GET", "/api/tickets",
                           headers={"Authorization": b"Bearer " + value})
    assert answer.status == 401 and answer.json()["error"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_a_corrupt_gzip_body_is_400(env):
    svc, token, number = env
    body = gzip.compress(b'{"unit": "Dukcapil"}')[:15] + b"not gzip at all" * 3
    answer = await request(svc.web_url, "PATCH", f"/api/tickets/{number}", body=body,
                           headers=auth(token, **JSON, **{"Content-Encoding": "gzip"}))
    assert answer.status == 400 and answer.json()["error"] == "bad_request"


@pytest.mark.parametrize("body", [
    b'{"unit": "Dukcapil\\ud800"}', b'{"assignee": "\\udfff x"}', b'{"unit\\ud83d": "a"}',
    b'{"unit": "Duk\\u0000capil"}', b'{"assignee": "a\\u0000"}', b'{"unit\\u0000": "x"}'])
async def test_patch_with_unstorable_text_is_422_and_changes_nothing(env, body):
    svc, token, number = env
    answer = await request(svc.web_url, "PATCH", f"/api/tickets/{number}", body=body,
                           headers=auth(token, **JSON))
    assert answer.status == 422 and answer.json()["error"] == "invalid"
    assert "NUL" in answer.json()["detail"]
    async with svc.read_sessions() as s:
        ticket = (await s.execute(select(Ticket))).scalar_one()
    assert ticket.unit is None and ticket.assignee is None


async def test_a_reply_with_nul_is_422_and_queues_nothing(env):
    svc, token, number = env
    answer = await request(svc.web_url, "POST", f"/api/tickets/{number}/replies",
                           body=b'{"text": "Sudah kami \\u0000 tangani"}',
                           headers=auth(token, **JSON))
    assert answer.status == 422
    async with svc.read_sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Outbox))).scalar_one() == 0


@pytest.mark.parametrize("body, status", [
    (b"\xff\xfe{}", 400), (b'{"unit": NaN}', 400), (b"[" * 50_000 + b"]" * 50_000, 400),
    (b'{"unit": 1' + b"0" * 5000 + b"}", 400), (b"", 400)])
async def test_malformed_bodies_are_400(env, body, status):
    svc, token, number = env
    answer = await request(svc.web_url, "PATCH", f"/api/tickets/{number}", body=body,
                           headers=auth(token, **JSON))
    assert answer.status == status, answer.body


@pytest.mark.parametrize("raw", [
    [10**30, 1, "2020-01-01T00:00:00+00:00", 1], [1, -(10**25), "2020-01-01T00:00:00", 1],
    [0, 0, "2020-01-01T00:00:00+00:00", 2**70]])
async def test_a_huge_integer_in_the_cursor_is_400(env, raw):
    svc, token, _ = env
    cursor = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    status, body = await Api(svc.web_url, token).call("GET", f"/api/tickets?cursor={cursor}")
    assert status == 400 and body["error"] == "bad_request"


@pytest.mark.parametrize("doc, detail", [
    ({"name": "budi", "role": "agent", "password": 12345678}, "password must be a string"),
    ({"name": "budi", "role": "agent", "password": True}, "password must be a string"),
    ({"name": 42, "role": "agent"}, "name must be"), ({"name": "budi", "role": ["admin"]},
                                                      "role must be one of"),
    ({"name": "budi", "role": "agent", "password": "a\u0000bcdefgh"}, "NUL")])
async def test_wrong_types_on_post_users_are_422(env, doc, detail):
    svc, token, _ = env
    status, body = await Api(svc.web_url, token).call("POST", "/api/users", json=doc)
    assert status == 422 and detail in body["detail"]
