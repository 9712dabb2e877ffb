"""The web UI as staff use it: a running service (real aiohttp app, real database,
the webhook connector with a real callback receiver) and Debian's Chromium driven by
Playwright, one browser for the whole session.

Tests run on the session's event loop (the browser lives there); each test gets its
own service, database and browser context (cookies). Screenshots go to
$WEBUI_SCREENSHOTS (default /tmp/webui-screenshots).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from aggregator.runtime.service import Service
from connectors.webhook.signing import sign_headers
from storage.models import Unit, User
from storage.passwords import hash_password
from tests.conftest import server_missing
from tests.connectors.webhook.receiver import Receiver, receiving
from tests.core.helpers import service_settings

CHROMIUM = os.environ.get("WEBUI_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
SECRET = "webui-test-secret-4f9a2c7e1b"
PASSWORD = "kata-sandi-uji-123"
SHOTS = Path(os.environ.get("WEBUI_SCREENSHOTS", "/tmp/webui-screenshots"))


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One scrypt hash for every test user (hashing costs half a second)."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def chromium() -> str:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        server_missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        server_missing("the playwright package is not installed (pip install '.[test]')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Live:
    service: Service
    url: str
    receiver: Receiver
    http: aiohttp.ClientSession

    async def post_report(self, body: dict[str, Any]) -> dict[str, Any]:
        """A report as a portal sends it: signed, through the running service."""
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   **sign_headers(SECRET.encode(), raw, time.time())}
        async with self.http.post(f"{self.url}/hooks/lapor", data=raw, headers=headers) as r:
            answer: dict[str, Any] = await r.json()
            assert r.status in (200, 201), answer
            return answer

    async def add_user(self, name: str, role: str, password_hash: str,
                       units: list[str] | None = None) -> None:
        async with self.service.sessions() as session, session.begin():
            session.add(User(name=name, role=role, password_hash=password_hash,
                             disabled=False, units=units or []))


@pytest_asyncio.fixture(loop_scope="session")
async def live(db_url: str, tmp_path: Path, password_hash: str) -> AsyncIterator[Live]:
    async with receiving(SECRET.encode()) as receiver:
        settings = service_settings(
            db_url, tmp_path,
            connectors={"lapor": {"type": "webhook", "secret": SECRET,
                                  "callback_url": receiver.url}},
            virality={"enabled": False},
            escalation={"enabled": True, "interval": "1s", "levels": [
                {"name": "petugas piket", "when": [{"keywords": ["wartawan"]}],
                 "priority": "high"}]},
            webui={"poll_interval": "1s"},
        )
        service = Service(settings)
        await service.start()
        http = aiohttp.ClientSession()
        try:
            assert service.web_url is not None
            env = Live(service, service.web_url, receiver, http)
            await env.add_user("ani", "agent", password_hash, ["Bina Marga"])
            await env.add_user("kepala", "supervisor", password_hash)
            await env.add_user("root", "admin", password_hash)
            async with service.sessions() as session, session.begin():
                session.add(Unit(name="Bina Marga", description="Jalan dan jembatan"))
            yield env
        finally:
            await http.close()
            await service.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1360, "height": 900},
                                        locale="id-ID", timezone_id="Asia/Jakarta")
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    dialogs: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        if getattr(tab, "accept_dialogs", False):  # a test clicking a confirm button
            await dialog.accept()
        else:
            await dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.dialogs = dialogs  # what a test asserts never happened
    try:
        yield tab
    finally:
        await context.close()


async def login(page: Any, live: Live, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{live.url}/ui/login")
    await page.get_by_label("Nama pengguna").fill(name)
    await page.get_by_label("Kata sandi").fill(password)
    await page.get_by_role("button", name="Masuk").click()
    await page.get_by_role("heading", name="Antrean").wait_for()


async def shot(page: Any, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
