"""One recipient's messages arrive in the order they were queued, even when one of them
fails and is retried; a dead message does not hold the later ones forever."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from aggregator.delivery import admin
from aggregator.delivery.outbox import OutboxSender
from aggregator.messages import Reply
from storage.models import Outbox, TicketEvent
from tests.core.test_outbox import FlakyChannel, ctx, ticket_with_replies


async def run_until(sender: OutboxSender, done, limit: float = 10.0) -> None:
    sender.start()
    try:
        async with asyncio.timeout(limit):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        await sender.stop()


async def test_a_failed_message_is_not_overtaken_by_later_ones(sessions, settings):
    chan = FlakyChannel(ctx(sessions, settings), failures=1)
    sender = OutboxSender(sessions, {"chan": chan}, base_delay=1.5, max_delay=1.5,
                          poll_interval=0.02)
    await ticket_with_replies(sessions, settings, ["satu"])
    sender.start()
    await asyncio.sleep(0.1)  # "satu" failed and waits for its retry
    await sender.stop()
    await ticket_with_replies_more(sessions, settings, ["dua", "tiga"])
    await run_until(sender, lambda: len(chan.delivered) >= 3)
    assert [text for _, text in chan.delivered] == ["satu", "dua", "tiga"]


async def ticket_with_replies_more(sessions, settings, texts):
    from aggregator.tickets.actions import add_reply
    from storage.models import Ticket

    for text in texts:
        async with sessions() as s, s.begin():
            ticket = (await s.execute(select(Ticket))).scalar_one()
            await add_reply(s, ticket, text, "user:ani", "ani")


async def test_a_dead_message_lets_later_ones_pass_and_can_be_retried(sessions, settings):
    chan = FlakyChannel(ctx(sessions, settings), failures=1)
    sender = OutboxSender(sessions, {"chan": chan}, max_attempts=1, poll_interval=0.02)
    ticket_id = await ticket_with_replies(sessions, settings, ["satu", "dua", "tiga"])
    await run_until(sender, lambda: len(chan.delivered) >= 2)
    assert [text for _, text in chan.delivered] == ["dua", "tiga"]

    async with sessions() as s:
        dead = await admin.messages(s, "dead")
    assert [m["kind"] for m in dead] == ["reply"] and "unavailable" in dead[0]["last_error"]
    async with sessions() as s, s.begin():
        await admin.retry(s, dead[0]["id"], "user:sri")
    await run_until(sender, lambda: len(chan.delivered) >= 3)
    assert [text for _, text in chan.delivered] == ["dua", "tiga", "satu"]
    async with sessions() as s:
        types = (await s.execute(select(TicketEvent.type).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))).scalars().all()
        row = await s.get(Outbox, dead[0]["id"])
    assert "delivery_failed" in types and types[-1] == "delivery_retried"
    assert row.state == "sent"


async def test_bodies_are_typed_when_they_reach_the_channel(sessions, settings):
    seen = []

    class Recorder(FlakyChannel):
        async def send(self, message):
            seen.append(message)
            return await super().send(message)

    chan = Recorder(ctx(sessions, settings))
    sender = OutboxSender(sessions, {"chan": chan}, poll_interval=0.02)
    await ticket_with_replies(sessions, settings, ["halo"])
    await run_until(sender, lambda: len(chan.delivered) >= 1)
    reply = next(m for m in seen if m.kind == "reply")
    assert reply.body == Reply("halo", "ani", ("m1",))
    assert reply.ticket_number.startswith("ADU-") and reply.created_at is not None


async def test_messages_no_process_can_send_are_reported(sessions, settings):
    from datetime import timedelta

    from sqlalchemy import update

    from storage.types import utcnow

    chan = FlakyChannel(ctx(sessions, settings))
    await ticket_with_replies(sessions, settings, ["halo"])
    async with sessions() as s, s.begin():  # as if queued for a channel nobody runs now
        await s.execute(update(Outbox).values(source="sms-gateway",
                                              next_attempt_at=utcnow() - timedelta(minutes=5)))
    sender = OutboxSender(sessions, {"chan": chan}, poll_interval=0.02)
    await run_until(sender, lambda: sender.unsendable)
    assert sender.health()["unsendable"] == {"sms-gateway": 3}  # ack, status, reply


class SlowChannel(FlakyChannel):
    async def send(self, message):
        await asyncio.sleep(2.0)  # several leases long
        return await super().send(message)


async def test_a_slow_delivery_keeps_its_claim_from_another_replica(sessions, settings):
    """The claim is renewed while a send outlasts the lease: a second process does not
    take the message and send it again."""
    slow = SlowChannel(ctx(sessions, settings))
    other = FlakyChannel(ctx(sessions, settings))
    # A lease of 1 s (renewed every third of it) leaves room for SQLite's one writer,
    # which the second process's polling shares; the send outlasts two leases.
    first = OutboxSender(sessions, {"chan": slow}, lease=1.0, poll_interval=0.02)
    second = OutboxSender(sessions, {"chan": other}, lease=1.0, poll_interval=0.02)
    await ticket_with_replies(sessions, settings, ["satu"])
    first.start()
    await asyncio.sleep(0.1)  # "satu" is claimed and being sent slowly
    await run_until(second, lambda: len(slow.delivered) >= 1)
    await first.stop()
    assert [t for _, t in slow.delivered] == ["satu"] and other.delivered == []


async def test_claims_of_a_killed_process_expire_within_the_lease(sessions, settings):
    """A process that dies holding claims (kill -9: nothing released) holds back its
    recipients only until the claim runs out; then another process sends, in order."""
    await ticket_with_replies(sessions, settings, ["satu", "dua"])
    killed = OutboxSender(sessions, {"chan": FlakyChannel(ctx(sessions, settings))},
                          lease=0.5)
    assert len(await killed._claim()) >= 2  # claimed, then the process is gone
    survivor_channel = FlakyChannel(ctx(sessions, settings))
    survivor = OutboxSender(sessions, {"chan": survivor_channel}, lease=0.5,
                            poll_interval=0.05)
    assert await survivor.run_once() == 0  # still held by the dead claim
    await run_until(survivor, lambda: len(survivor_channel.delivered) >= 2, limit=5)
    assert [t for _, t in survivor_channel.delivered] == ["satu", "dua"]


async def test_a_standby_process_leaves_a_leased_channel_to_its_holder(sessions, settings):
    """A polling channel's messages are sent by the process holding its lease only (its
    budgets and limits are then spent in one place); the standby sends once it holds."""
    holding = False
    chan = FlakyChannel(ctx(sessions, settings))
    sender = OutboxSender(sessions, {"chan": chan}, poll_interval=0.02,
                          may_send=lambda source: holding)
    await ticket_with_replies(sessions, settings, ["satu"])
    assert await sender.run_once() == 0 and chan.delivered == []
    holding = True  # the holder died; this process took the lease over
    await run_until(sender, lambda: len(chan.delivered) >= 1)
    assert [t for _, t in chan.delivered] == ["satu"]
