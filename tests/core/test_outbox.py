"""The outbox delivers what staff owe reporters: retried, in order, never lost."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from aggregator.config import ConnectorSettings
from aggregator.delivery.outbox import OutboxSender
from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.intake.port import Connector, ConnectorContext
from aggregator.messages import OutboundMessage, SendResult
from aggregator.tickets.actions import add_reply
from storage.models import Outbox, Ticket, TicketEvent


class FlakyChannel(Connector):
    def __init__(self, ctx: ConnectorContext, failures: int = 0, mode: str = "send"):
        super().__init__(ConnectorSettings(type="flaky"), ctx)
        self.failures, self.mode = failures, mode
        self.delivered: list[tuple[str, str]] = []

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.kind != "reply":
            return SendResult(skipped=True)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("channel unavailable")
        if self.mode == "ratelimit":
            self.mode = "send"
            return SendResult(retry_after=0.05)
        self.delivered.append((message.recipient.handle, message.body.text))
        return SendResult(external_id=f"out-{message.id}")


def ctx(sessions, settings) -> ConnectorContext:
    return ConnectorContext(name="chan", settings=settings,
                            ingestor=Ingestor(sessions, Pipeline(settings)), sessions=sessions,
                            log=logging.LoggerAdapter(logging.getLogger("t"), {}))


async def ticket_with_replies(sessions, settings, texts: list[str]) -> int:
    ing = Ingestor(sessions, Pipeline(settings))
    (res,) = await ing.submit([Report(source="chan", channel="chan", external_id="m1",
                                      text="Lampu jalan mati", author=Author(handle="u1"),
                                      ack=True)])
    await ing.close()
    for text in texts:
        async with sessions() as s, s.begin():
            ticket = await s.get(Ticket, res.ticket_id)
            await add_reply(s, ticket, text, "user:ani", "ani")
    return res.ticket_id


async def drain(sender: OutboxSender, rounds: int = 60) -> None:
    for _ in range(rounds):
        await sender.run_once()
        await asyncio.sleep(0.03)


async def test_failures_are_retried_in_order_then_recorded_sent(sessions, settings):
    tid = await ticket_with_replies(sessions, settings, ["satu", "dua", "tiga"])
    chan = FlakyChannel(ctx(sessions, settings), failures=3)
    sender = OutboxSender(sessions, {"chan": chan}, base_delay=0.01, max_delay=0.02)
    await drain(sender)
    assert chan.delivered == [("u1", "satu"), ("u1", "dua"), ("u1", "tiga")]
    async with sessions() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.ticket_id == tid)
                                .order_by(Outbox.id))).scalars().all()
    by_kind = [(r.kind, r.state) for r in rows]
    assert by_kind[0] == ("ack", "skipped")
    replies = [r for r in rows if r.kind == "reply"]
    assert all(r.state == "sent" and r.external_id == f"out-{r.id}" for r in replies)
    assert replies[0].attempts == 4  # three failures, then success


async def test_rate_limit_waits_without_counting_as_failure(sessions, settings):
    await ticket_with_replies(sessions, settings, ["halo"])
    chan = FlakyChannel(ctx(sessions, settings), mode="ratelimit")
    sender = OutboxSender(sessions, {"chan": chan}, base_delay=0.01)
    await drain(sender, rounds=20)
    assert chan.delivered == [("u1", "halo")]
    async with sessions() as s:
        row = (await s.execute(select(Outbox).where(Outbox.kind == "reply"))).scalar_one()
    assert row.state == "sent" and row.attempts == 1


async def test_gives_up_after_max_attempts_and_tells_staff(sessions, settings):
    tid = await ticket_with_replies(sessions, settings, ["halo"])
    chan = FlakyChannel(ctx(sessions, settings), failures=100)
    sender = OutboxSender(sessions, {"chan": chan}, base_delay=0.001, max_delay=0.002,
                          max_attempts=3)
    await drain(sender, rounds=30)
    async with sessions() as s:
        row = (await s.execute(select(Outbox).where(Outbox.kind == "reply"))).scalar_one()
        events = (await s.execute(select(TicketEvent.type).where(
            TicketEvent.ticket_id == tid))).scalars().all()
    assert row.state == "dead" and row.attempts == 3 and "unavailable" in row.last_error
    assert "delivery_failed" in events


async def test_messages_for_a_channel_not_running_here_wait_for_it(sessions, settings):
    await ticket_with_replies(sessions, settings, ["halo"])
    other = FlakyChannel(ctx(sessions, settings))
    assert await OutboxSender(sessions, {"elsewhere": other}).run_once() == 0
    async with sessions() as s:
        rows = (await s.execute(select(Outbox))).scalars().all()
    assert {(r.state, r.attempts) for r in rows} == {("pending", 0)}
    # When the channel runs (here or on another replica), they go out.
    chan = FlakyChannel(ctx(sessions, settings))
    await drain(OutboxSender(sessions, {"chan": chan}), rounds=3)
    assert chan.delivered == [("u1", "halo")]
