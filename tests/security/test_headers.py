"""Security headers on every answer: JSON, errors, webhooks, and HTML."""

from __future__ import annotations

import pytest
from aiohttp import web

from aggregator.web.headers import security_headers
from tests.core.helpers import running, service_settings, token_for
from tests.security.rawhttp import request

EXPECTED = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
            "x-frame-options": "DENY"}


@pytest.fixture
async def svc(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path, connectors={
        "lapor": {"type": "webhook", "secret": "headers-test-secret-5d1e"}})
    async with running(settings) as service:
        yield service


async def test_every_kind_of_answer_carries_the_headers(svc):
    token = await token_for(svc, "ani", "agent")
    calls = [("GET", "/healthz", {}, 200), ("GET", "/api/tickets", {}, 401),
             ("GET", "/api/tickets", {"Authorization": f"Bearer {token}"}, 200),
             ("GET", "/api/tickets/NOPE", {"Authorization": f"Bearer {token}"}, 404),
             ("GET", "/nowhere", {}, 404), ("DELETE", "/healthz", {}, 405),
             ("POST", "/hooks/lapor", {"Content-Type": "application/json"}, 401),
             ("POST", "/hooks/lapor", {"Content-Type": "text/plain"}, 415)]
    for method, path, headers, status in calls:
        answer = await request(svc.web_url, method, path, headers=headers, body=b"{}")
        assert answer.status == status, (path, answer.body)
        for name, value in EXPECTED.items():
            assert answer.headers.get(name) == value, (path, name)
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        if path.startswith("/api/"):
            assert answer.headers["cache-control"] == "no-store"


async def test_html_gets_a_policy_without_inline_script():
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Antrean</h1>", content_type="text/html")

    app = web.Application(middlewares=[security_headers])
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        answer = await request(f"http://{host}:{port}", "GET", "/")
    finally:
        await runner.cleanup()
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    for name, value in EXPECTED.items():
        assert answer.headers[name] == value
