"""Signing in over plain HTTP, as a browser would but with every header in view: the
session cookie's flags, what the database keeps, logout, idle expiry, disabled users,
login throttling, CSRF and Origin checks, safe redirects, and the security headers."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select, update

from storage.models import Outbox, TicketEvent, User, WebSession
from storage.types import utcnow
from tests.webui.conftest import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Browser:
    """An HTTP client that keeps cookies like a browser (also for 127.0.0.1)."""

    def __init__(self, base: str):
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def get(self, path: str, **kw: object) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.base + path, allow_redirects=False, **kw) as r:
            return r.status, await r.text(), r

    async def post(self, path: str, data: dict[str, str], **kw: object
                   ) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.post(self.base + path, data=data, allow_redirects=False,
                                  **kw) as r:
            return r.status, await r.text(), r

    async def csrf(self, path: str) -> str:
        status, html, _ = await self.get(path)
        assert status == 200, html[:300]
        return re.findall(r'name="csrf_token" value="([^"]+)"', html)[0]

    async def login(self, name: str, password: str = PASSWORD, **kw: object
                    ) -> tuple[int, str, aiohttp.ClientResponse]:
        token = await self.csrf("/ui/login")
        return await self.post("/ui/login", {"csrf_token": token, "username": name,
                                             "password": password, "next": "/ui/queue"}, **kw)

    def cookie(self, name: str) -> str | None:
        for c in self.http.cookie_jar:
            if c.key == name:
                return c.value
        return None


@pytest_asyncio.fixture(loop_scope="session")
async def browser_http(live):
    b = Browser(live.url)
    yield b
    await b.http.close()


async def test_session_cookie_flags_and_what_the_database_keeps(live, browser_http):
    status, _, answer = await browser_http.login("ani")
    assert status == 303 and answer.headers["Location"] == "/ui/queue"
    raw = next(h for h in answer.headers.getall("Set-Cookie") if h.startswith("aduan_session="))
    assert "HttpOnly" in raw and "SameSite=Lax" in raw and "Path=/" in raw
    assert "Secure" not in raw and "Max-Age" not in raw and "expires" not in raw.lower()
    token = browser_http.cookie("aduan_session")
    assert token
    async with live.service.sessions() as s:
        rows = (await s.execute(select(WebSession.token_hash))).scalars().all()
    assert rows == [hashlib.sha256(token.encode()).hexdigest()]  # never the value itself

    behind_tls = Browser(live.url)
    try:
        status, _, answer = await behind_tls.login(
            "ani", headers={"X-Forwarded-Proto": "https"})
        assert status == 303
        raw = next(h for h in answer.headers.getall("Set-Cookie") if "aduan_session" in h)
        assert raw.startswith("__Host-aduan_session=") and "Secure" in raw
    finally:
        await behind_tls.http.close()


async def test_logout_idle_expiry_and_disabled_users_end_sessions(live, browser_http):
    await browser_http.login("ani")
    assert (await browser_http.get("/ui/queue"))[0] == 200
    token = await browser_http.csrf("/ui/queue")
    status, _, answer = await browser_http.post("/ui/logout", {"csrf_token": token})
    assert status == 303 and answer.headers["Location"].startswith("/ui/login")
    status, _, answer = await browser_http.get("/ui/queue")
    assert status == 303 and answer.headers["Location"].startswith("/ui/login?next=")

    await browser_http.login("ani")
    async with live.service.sessions() as s, s.begin():
        await s.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
    status, _, answer = await browser_http.get("/ui/queue")
    assert status == 303 and "notice=expired" in answer.headers["Location"]
    status, html, _ = await browser_http.get(answer.headers["Location"])
    assert "Sesi Anda berakhir" in html

    await browser_http.login("ani")
    async with live.service.sessions() as s, s.begin():
        await s.execute(update(User).where(User.name == "ani").values(disabled=True))
    assert (await browser_http.get("/ui/queue"))[0] == 303


async def test_failed_logins_are_throttled(live, browser_http):
    for _ in range(5):
        status, html, _ = await browser_http.login("kepala", "salah-sandi-123")
        assert status == 401 and "Nama pengguna atau kata sandi salah." in html
    status, html, answer = await browser_http.login("kepala")  # even the right one now
    assert status == 429 and "Terlalu banyak percobaan" in html
    assert int(answer.headers["Retry-After"]) > 0


async def test_csrf_origin_and_redirect_checks(live, browser_http):
    made = await live.post_report({"id": "S-1", "text": "Pelayanan KTP lambat sekali.",
                                   "reporter": {"name": "Warga"}})
    reply = f"/ui/tickets/{made['ticket']}/reply"
    status, html, _ = await browser_http.post("/ui/login", {
        "username": "ani", "password": PASSWORD, "csrf_token": "x" * 43})
    assert status == 403 and "CSRF" in html
    await browser_http.login("ani")
    token = await browser_http.csrf(f"/ui/tickets/{made['ticket']}")
    form = {"text": "Sedang kami periksa.", "to": "all"}
    assert (await browser_http.post(reply, form))[0] == 403
    assert (await browser_http.post(reply, {**form, "csrf_token": "0" * 43}))[0] == 403
    status, _, _ = await browser_http.post(reply, {**form, "csrf_token": token},
                                           headers={"Origin": "https://evil.example"})
    assert status == 403
    status, _, _ = await browser_http.post(reply, {**form, "csrf_token": token},
                                           headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    status, _, answer = await browser_http.post(reply, {**form, "csrf_token": token},
                                                headers={"Origin": "null"})
    assert status == 303, answer.headers
    status, _, answer = await browser_http.post(
        reply, {**form, "csrf_token": token},
        headers={"X-CSRF-Token": token, "Origin": live.url})
    assert status == 303

    for evil in ("//evil.example/x", "https://evil.example/", "/ui/../\\evil", "/api/x"):
        other = Browser(live.url)
        try:
            token = await other.csrf("/ui/login")
            status, _, answer = await other.post("/ui/login", {
                "csrf_token": token, "username": "kepala", "password": PASSWORD,
                "next": evil})
            assert status == 303 and answer.headers["Location"] == "/ui/queue", evil
        finally:
            await other.http.close()


async def test_pages_carry_the_security_headers(live, browser_http):
    await browser_http.login("ani")
    for path in ("/ui/login", "/ui/queue"):
        status, _, answer = await browser_http.get(path)
        if status == 303:
            continue
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
    status, html, _ = await browser_http.get("/ui/queue")
    assert " style=" not in html and "<script>" not in html and " onclick" not in html


async def test_a_reply_form_sent_twice_replies_once(live, browser_http):
    """A double click, or the browser sending the form again: one reply, one message."""
    made = await live.post_report({"id": "S-2", "text": "Antrean BPJS tidak bergerak.",
                                   "reporter": {"name": "Warga"}})
    await browser_http.login("ani")
    page_path = f"/ui/tickets/{made['ticket']}"
    token = await browser_http.csrf(page_path)
    _, html, _ = await browser_http.get(page_path)
    key = re.search(r'name="reply_key" value="([^"]+)"', html).group(1)
    form = {"text": "Sedang kami periksa.", "to": "all", "csrf_token": token, "reply_key": key}
    for _ in range(2):
        assert (await browser_http.post(f"{page_path}/reply", form))[0] == 303
    async with live.service.sessions() as s:
        replies = (await s.execute(select(TicketEvent).where(
            TicketEvent.type == "reply"))).scalars().all()
        queued = (await s.execute(select(Outbox).where(Outbox.kind == "reply"))).scalars().all()
    assert len(replies) == 1 and len(queued) == 1
    _, html, _ = await browser_http.get(page_path)  # a fresh form replies anew
    fresh = re.search(r'name="reply_key" value="([^"]+)"', html).group(1)
    assert fresh != key
