"""The Telegram webhook's secret-token header, as anyone on the internet may send it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.telegram.fake_bot_api import FakeBotAPI
from tests.connectors.telegram.harness import tg_settings
from tests.core.helpers import running
from tests.security.rawhttp import request

SECRET = "Tg_webhook-secret_7f3a9c2e"
UPDATE = (b'{"update_id": 7, "message": {"message_id": 1, "date": 1767225600, '
          b'"text": "Jalan rusak", "chat": {"id": 9, "type": "private"}, '
          b'"from": {"id": 9, "is_bot": false, "first_name": "A"}}}')


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI()
    await api.start()
    yield api
    await api.close()


@pytest.mark.parametrize("given", [
    b"\xe9t\xe9-latin-1-bytes", "sécret-ünïcode".encode(), b"\xff\xfe\xfd",
    SECRET[:-1].encode(), (SECRET + "x").encode(), b"", SECRET.lower().encode()])
async def test_a_wrong_secret_token_is_401_never_500(db_url, tmp_path, fake, given):
    settings = tg_settings(db_url, tmp_path, fake, mode="webhook", webhook_secret=SECRET)
    async with running(settings) as svc:
        answer = await request(svc.web_url, "POST", "/hooks/tg", body=UPDATE, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": given})
        assert answer.status == 401
        assert answer.json() == {"ok": False, "error": "bad secret token"}
        good = await request(svc.web_url, "POST", "/hooks/tg", body=UPDATE, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert good.status == 200
