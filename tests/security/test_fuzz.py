"""No input a client can send gets a 500: property-based requests against the real
service (aiohttp app, middlewares, connectors, database).

Hypothesis runs in a worker thread; each request is sent on the service's own event
loop through a bare HTTP client, so header bytes no library would send are tried too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from aggregator.domain import Author, Report
from connectors.webhook.signing import sign_headers
from storage.models import ApiToken
from tests.core.helpers import running, service_settings, token_for
from tests.security.rawhttp import Answer, request

T = TypeVar("T")
SECRET = "fuzz-test-secret-7d2c91ab40"
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

# Text with what breaks things: NUL, lone surrogates, controls, RTL marks, emoji.
chars = st.characters(exclude_categories=(), include_characters="\x00\ud800\udfff\u202e")
text = st.text(chars, max_size=40) | st.sampled_from(
    ["", " ", "\x00", "\ud83d", "a" * 5000, "ADU-2026-000001", "null", "💥" * 3])
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63)
           | st.floats(allow_nan=False) | text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=12)
dates = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | text


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | json_values


reports = st.fixed_dictionaries(
    {"id": maybe(text), "text": maybe(text)},
    optional={
        "title": maybe(text), "category": maybe(text), "channel": maybe(text),
        "kind": maybe(st.sampled_from(["complaint", "aspiration", "whistleblowing"])),
        "confidential": json_values, "created_at": maybe(dates),
        "reporter": maybe(st.fixed_dictionaries({}, optional={
            "name": maybe(text), "email": maybe(text), "phone": maybe(text),
            "telegram": maybe(text), "anonymous": json_values})),
        "location": maybe(st.fixed_dictionaries({}, optional={
            "lat": json_values, "lon": json_values, "address": maybe(text)})),
        "attachments": maybe(st.lists(st.fixed_dictionaries(
            {"url": maybe(text)}, optional={"size": json_values, "filename": maybe(text)}),
            max_size=3)),
        "thread_id": maybe(text), "meta": json_values,
    })
bodies = (reports.map(lambda d: json.dumps(d).encode())
          | json_values.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=300))

# Staff API bodies. Passwords are never valid (>= 8 characters of text): each valid
# one costs a 0.5 s scrypt hash and proves nothing more.
no_password = st.text(max_size=7) | st.integers() | st.booleans() | st.none()
staff_calls = st.one_of(
    st.tuples(st.just("PATCH"), st.just("/api/tickets/{number}"), st.fixed_dictionaries(
        {}, optional={"state": maybe(st.sampled_from(["in_progress", "resolved", "closed"])),
                      "priority": maybe(st.sampled_from(["low", "urgent"])),
                      "assignee": maybe(text), "unit": maybe(text)}) | json_values),
    st.tuples(st.just("POST"), st.just("/api/tickets/{number}/replies"),
              st.fixed_dictionaries({"text": maybe(text)}) | json_values),
    st.tuples(st.just("POST"), st.just("/api/tickets/{number}/merge"),
              st.fixed_dictionaries({"into": maybe(text)}) | json_values),
    st.tuples(st.just("POST"), st.just("/api/users"), st.fixed_dictionaries(
        {"name": maybe(text), "role": maybe(st.sampled_from(["agent", "admin"]))},
        optional={"password": no_password})),
    st.tuples(st.just("PATCH"), st.just("/api/users/budi"), st.fixed_dictionaries(
        {}, optional={"role": maybe(st.sampled_from(["agent", "supervisor"])),
                      "disabled": json_values, "password": no_password}) | json_values),
)
encoded = st.one_of(st.just(json.dumps), st.just(lambda d: json.dumps(d, ensure_ascii=False)))

cursors = json_values.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())
query_values = text | cursors | st.integers().map(str)
queries = st.dictionaries(
    st.sampled_from(["state", "channel", "q", "kind", "unit", "assignee", "limit", "cursor",
                     "user", "x"]) | text, query_values, max_size=4)
paths = st.sampled_from(["/api/tickets", "/api/tokens", "/api/users", "/api/tickets/{any}",
                         "/api/reports/{any}/split", "/api/tokens/{any}",
                         "/hooks/lapor/status/{any}"])


def _q(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _assert_answer(answer: Answer, what: Any) -> None:
    assert answer.status < 500, (what, answer.status, answer.body[:300])
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        if answer.status >= 400:
            assert "error" in body, (what, body)


async def test_no_client_input_gets_a_500(db_url, tmp_path):
    limits = {"rate": 0, "burst": 0, "per_client_rate": 0, "per_client_burst": 0}
    config = service_settings(db_url, tmp_path, connectors={
        "lapor": {"type": "webhook", "secret": SECRET, "rate_limit": limits}})
    async with running(config) as svc:
        admin = await token_for(svc, "root", "admin")
        await token_for(svc, "budi", "agent")
        (first,) = await svc.ingestor.submit([Report(
            source="lapor", channel="web-form", external_id="seed", text="Jalan rusak parah",
            author=Author(handle="0812", name="Ani"))])
        loop = asyncio.get_running_loop()

        async def unrevoke() -> None:
            async with svc.sessions() as s, s.begin():
                await s.execute(update(ApiToken).values(revoked_at=None))

        def send(coro: Coroutine[Any, Any, T]) -> T:
            return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

        def run(fn: Callable[[], None]) -> Coroutine[Any, Any, None]:
            return asyncio.to_thread(fn)

        @FUZZ
        @given(body=bodies, encoding=st.sampled_from([None, "gzip-broken"]))
        def webhook(body: bytes, encoding: str | None) -> None:
            headers: dict[str, str | bytes] = {
                "Content-Type": "application/json",
                **sign_headers(SECRET.encode(), body, time.time())}
            data = body
            if encoding:
                headers["Content-Encoding"] = "gzip"
                data = b"\x1f\x8b\x08\x00" + body
            _assert_answer(send(request(svc.web_url, "POST", "/hooks/lapor", body=data,
                                        headers=headers)), body)

        @FUZZ
        @given(call=staff_calls, dump=encoded)
        def staff(call: tuple[str, str, Any], dump: Callable[[Any], str]) -> None:
            method, path, doc = call
            try:
                raw = dump(doc).encode("utf-8", "surrogatepass")
            except ValueError:
                raw = json.dumps(doc).encode()
            answer = send(request(svc.web_url, method,
                                  path.replace("{number}", first.ticket_number), body=raw,
                                  headers={"Authorization": f"Bearer {admin}",
                                           "Content-Type": "application/json"}))
            _assert_answer(answer, call)

        @FUZZ
        @given(path=paths, any_part=text, query=queries, method=st.sampled_from(
            ["GET", "DELETE", "POST"]))
        def query_strings(path: str, any_part: str, query: dict[str, str], method: str) -> None:
            target = path.replace("{any}", _q(any_part) or "x")
            if query:
                target += "?" + "&".join(f"{_q(k)}={_q(v)}" for k, v in query.items())
            answer = send(request(svc.web_url, method, target,
                                  headers={"Authorization": f"Bearer {admin}"}))
            _assert_answer(answer, (method, target))
            if method == "DELETE" and answer.status == 200:  # a token was revoked: undo
                send(unrevoke())

        @FUZZ
        @given(value=st.binary(max_size=120).filter(lambda b: b"\r" not in b and b"\n" not in b),
               prefix=st.sampled_from([b"", b"Bearer ", b"bearer ", b"Basic "]))
        def authorization(value: bytes, prefix: bytes) -> None:
            answer = send(request(svc.web_url, "GET", "/api/tickets",
                                  headers={"Authorization": prefix + value}))
            _assert_answer(answer, prefix + value)
            assert answer.status in (400, 401), answer.status

        started = time.monotonic()
        for fuzz in (webhook, staff, query_strings, authorization):
            await run(fuzz)
        assert time.monotonic() - started < 120
