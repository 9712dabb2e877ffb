"""Public replies: off by default; when on, a reply tweet that shows the ticket number,
reveals no personal data and fits in 280 characters."""

from __future__ import annotations

import pytest

from aggregator.domain import Author
from aggregator.messages import Ack, MessageBody, OutboundMessage, Reply, StatusChange
from connectors.twitter.compose import weighted_length
from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import bare_connector

KEYS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at",
        "access_token_secret": "ats"}
WARGA = Author(handle="900000001", name="Budi Santoso", email=None, phone=None)


def message(body: MessageBody, number: str = "ADU-2026-000042",
            id_: int = 1) -> OutboundMessage:
    return OutboundMessage(id=id_, source="x", body=body, ticket_number=number,
                           recipient=WARGA, attempts=0)


@pytest.fixture
def mention(fake_x: FakeX) -> str:
    fake_x.user("900000001", "budi_s", "Budi Santoso")
    return fake_x.tweet("@pemkot_test rumah saya di Jl. Kenanga 5 kebanjiran, hp 081234567890",
                        "900000001")


async def test_nothing_is_posted_by_default(fake_x: FakeX, mention: str) -> None:
    conn = bare_connector(fake_x)
    for body in (
        Ack(mention, True, "new"),
        Reply("Sudah kami teruskan", "", (mention,)),
        StatusChange("new", "resolved", (mention,)),
    ):
        assert (await conn.send(message(body))).skipped
    await conn.stop()
    assert not fake_x.calls("create")


async def test_public_ack_shows_number_and_nothing_personal(fake_x: FakeX, mention: str) -> None:
    conn = bare_connector(fake_x, reply_publicly=True, user_auth=KEYS)
    result = await conn.send(message(Ack(mention, True, "new")))
    await conn.stop()
    (posted,) = fake_x.posted
    assert result.external_id == posted["id"] and not result.skipped
    assert posted["reply"] == {"in_reply_to_tweet_id": mention}
    assert "ADU-2026-000042" in posted["text"]
    for personal in ("Budi", "budi_s", "Kenanga", "081234567890"):
        assert personal not in posted["text"]
    # Posting needs the account's user context; X refuses app-only bearer tokens.
    assert fake_x.calls("create")[0].status == 201


async def test_long_reply_is_trimmed_with_pointer_and_scrubbed(fake_x: FakeX, mention: str) -> None:
    conn = bare_connector(fake_x, reply_publicly=True, user_auth=KEYS,
                             private_channel="DM @pemkot_test")
    text = ("Terima kasih Pak, petugas sudah kami kirim. Untuk koordinasi silakan hubungi "
            "budi.petugas@pemkot.go.id atau 0812-3456-7890. " + "Mohon bersabar. " * 40)
    result = await conn.send(message(Reply(text, "Sari", (mention, "1"))))
    await conn.stop()
    (posted,) = fake_x.posted
    assert result.external_id == posted["id"]
    out = posted["text"]
    assert weighted_length(out) <= 280
    assert out.startswith("Terima kasih Pak, petugas sudah kami kirim.")
    assert "selengkapnya: DM @pemkot_test" in out and "ADU-2026-000042" in out
    assert "pemkot.go.id" not in out and "3456" not in out and "Sari" not in out
    assert posted["reply"]["in_reply_to_tweet_id"] == mention  # the newest report


async def test_status_and_ack_rules(fake_x: FakeX, mention: str) -> None:
    conn = bare_connector(fake_x, reply_publicly=True, user_auth=KEYS)
    ids = (mention,)
    assert (await conn.send(message(StatusChange("new", "in_progress", ids)))
            ).skipped  # only public_status_states are announced
    assert (await conn.send(message(Ack(mention, False, "reply")))).skipped
    done = await conn.send(message(StatusChange("in_progress", "resolved", ids)))
    await conn.stop()
    (posted,) = fake_x.posted
    assert done.external_id == posted["id"]
    assert posted["text"].startswith("Tiket ADU-2026-000042: selesai ditangani.")


async def test_limits_and_failures_when_posting(fake_x: FakeX, mention: str) -> None:
    conn = bare_connector(fake_x, reply_publicly=True, user_auth=KEYS, backoff_initial=0.01,
                             budgets={"create": {"per_day": 2}})
    reply = (mention,)
    fake_x.fail("create", 429, headers={"x-rate-limit-reset": "9999999999"})
    limited = await conn.send(message(Reply("Satu", "", reply)))
    assert limited.retry_after is not None and limited.retry_after > 3600
    conn.gate.quotas["create"].blocked_until = 0  # X's window passed
    fake_x.fail("create", 500)
    with pytest.raises(RuntimeError, match="HTTP 500"):
        await conn.send(message(Reply("Dua", "", reply)))
    spent = await conn.send(message(Reply("Tiga", "", reply)))
    assert spent.retry_after is not None and spent.retry_after > 0  # daily budget of 2
    await conn.stop()
    assert len(fake_x.calls("create")) == 2 and not fake_x.posted


async def test_a_resent_post_counts_as_sent(fake_x: FakeX, mention: str) -> None:
    """Outbox delivery is at-least-once; X refuses the duplicate, which means it is out."""
    conn = bare_connector(fake_x, reply_publicly=True, user_auth=KEYS)
    msg = message(Reply("Petugas menuju lokasi", "", (mention,)))
    first = await conn.send(msg)
    again = await conn.send(msg)
    await conn.stop()
    assert first.external_id and not again.skipped and again.retry_after is None
    assert len(fake_x.posted) == 1
