"""`send()`: what a portal's callback endpoint receives, and when we try again."""

from __future__ import annotations

import pytest

from aggregator.messages import Ack, OutboundMessage, Reply, SendResult, StaffNotice, StatusChange
from connectors.webhook.callback import CallbackError
from tests.connectors.webhook.harness import SECRET, complaint, serve, webhook_settings
from tests.connectors.webhook.receiver import receiving


def message(body, *, id_: int = 1, number: str | None = None, state: str | None = None):
    return OutboundMessage(id=id_, source="lapor", body=body, ticket_number=number,
                           ticket_state=state, recipient=None, attempts=0)


@pytest.fixture
async def wired(db_url, tmp_path, sessions):
    """A connector whose callback_url points at a local receiver."""
    async with receiving(SECRET.encode()) as rec:
        settings = webhook_settings(db_url, tmp_path, callback_url=rec.url,
                                    callback_timeout=0.5)
        async with serve(settings, sessions) as hook:
            yield hook, rec


async def test_reply_and_status_are_signed_and_carry_the_source_id(wired):
    hook, rec = wired
    _, created, _ = await hook.post(complaint(1))
    number = created["ticket"]
    # The outbox hands over the ticket's state as it was when it claimed the row.
    reply = message(Reply("Sudah kami teruskan ke Dinas PU", "Ani", ("LAPOR-1",)), id_=41,
                    number=number, state="new")
    assert await hook.conn.send(reply) == SendResult()
    state = message(StatusChange("new", "in_progress", ("LAPOR-1",)), id_=42, number=number,
                    state="new")
    assert await hook.conn.send(state) == SendResult()
    first, second = rec.calls
    assert first["signature_ok"] and second["signature_ok"]
    assert first["headers"]["Idempotency-Key"] == "lapor:41"
    assert first["headers"]["X-Aggregator-Event"] == "reply"
    assert first["body"] | {"at": None} == {
        "event": "reply", "idempotency_key": "lapor:41", "id": "LAPOR-1", "ids": ["LAPOR-1"],
        "ticket": number, "state": "new", "at": None,
        "reply": {"text": "Sudah kami teruskan ke Dinas PU", "staff": "Ani"},
    }
    assert second["body"]["state"] == "in_progress"
    assert second["body"]["previous_state"] == "new"


async def test_failures_raise_so_the_outbox_retries(wired):
    hook, rec = wired
    msg = message(StatusChange("new", "resolved", ("X",)), number="ADU-2026-000009")
    rec.script = [500, 404, 302]
    for _ in range(3):
        with pytest.raises(CallbackError, match="HTTP"):
            await hook.conn.send(msg)
    rec.script, rec.delay = [200], 2.0  # slower than callback_timeout
    with pytest.raises(CallbackError, match="failed"):
        await hook.conn.send(msg)
    rec.delay = 0
    rec.script = [429]
    assert await hook.conn.send(msg) == SendResult(retry_after=7.0)
    assert await hook.conn.send(msg) == SendResult()
    assert hook.conn.health()["callbacks"] == {"delivered": 1, "failed": 4}


async def test_redirects_are_not_followed(db_url, tmp_path, sessions):
    async with receiving(SECRET.encode()) as rec:
        moved = rec.url.replace("/lapor/callback", "/moved")
        settings = webhook_settings(db_url, tmp_path, callback_url=moved)
        async with serve(settings, sessions) as hook:
            with pytest.raises(CallbackError, match="302"):
                await hook.conn.send(message(Reply("x", "")))
        assert rec.calls == []


async def test_acks_and_unconfigured_callbacks_are_skipped(db_url, tmp_path, sessions):
    async with serve(webhook_settings(db_url, tmp_path), sessions) as hook:
        assert await hook.conn.send(message(Reply("x", ""))) == SendResult(skipped=True)
    async with receiving(SECRET.encode()) as rec:
        settings = webhook_settings(db_url, tmp_path, callback_url=rec.url)
        async with serve(settings, sessions) as hook:
            for body in (Ack("LAPOR-1", True, "new"), StaffNotice("ops", "s", "t")):
                assert await hook.conn.send(message(body)) == SendResult(skipped=True)
        assert rec.calls == []


async def test_callback_secret_signs_callbacks(db_url, tmp_path, sessions):
    other = "callback-only-secret-0123"
    async with receiving(other.encode()) as rec:
        settings = webhook_settings(db_url, tmp_path, callback_url=rec.url,
                                    callback_secret=other)
        async with serve(settings, sessions) as hook:
            await hook.conn.send(message(Reply("x", "")))
        assert rec.calls[0]["signature_ok"]
