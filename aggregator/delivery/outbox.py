"""Delivers what staff (and the pipeline) owe the outside world.

Rows are written in the same transaction as the change that caused them, then this
sender claims due rows with a lease (SKIP LOCKED on PostgreSQL, so replicas share the
work), hands each to its connector's `send()`, and records the outcome. Delivery is
at-least-once: a crash between the channel's acceptance and our commit re-sends, so
messages carry their outbox id as an idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.delivery import claims
from aggregator.domain import Author
from aggregator.events import SYSTEM, Event, EventType
from aggregator.events import record as record_events
from aggregator.messages import (
    MessageBody,
    OutboundMessage,
    Sender,
    SendResult,
    StatusChange,
)
from aggregator.runtime import backoff
from storage.models import Outbox
from storage.types import utcnow

log = logging.getLogger("aggregator.delivery.outbox")
UNSENDABLE_EVERY = 30.0  # seconds between two counts of messages nobody here can send
PAUSE_AFTER = 3  # failures in a row (no success between) that show a channel is down

# (ticket number, reporter id) -> the reporter's link to the satisfaction survey.
SurveyLink = Callable[[str, int], str | None]


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connectors: Mapping[str, Sender],
        *,
        batch: int = 50,
        lease: float = 15.0,
        poll_interval: float = 1.0,
        send_timeout: float = 60.0,
        max_attempts: int = 25,
        base_delay: float = 2.0,
        max_delay: float = 1800.0,
        survey_link: SurveyLink | None = None,
        may_send: Callable[[str], bool] = lambda source: True,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        round_wait: float = 2.0,
        max_rounds: int = 8,
    ):
        self.sessions = sessions
        # Looking for due rows needs no write lock: on SQLite (one writer) a claim
        # transaction on every wake-up would queue ingest behind an empty outbox.
        self.read_sessions = read_sessions or sessions
        # Whether this process sends a source's messages now: a polling channel's are
        # sent by the process holding its lease, so its limits and budgets (X's paid
        # calls, Telegram's flood limits, the cap on e-mail acknowledgements) are spent
        # by one process at a time and carried over in the database on takeover.
        self.may_send = may_send
        self.survey_link = survey_link
        self.connectors = connectors
        self.batch = batch
        self.lease = lease
        self.poll_interval = poll_interval
        self.send_timeout = send_timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.round_wait = round_wait
        self.max_rounds = max_rounds
        self._rounds: set[asyncio.Task[None]] = set()  # rounds still delivering
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Claimed rows whose round has not finished: released on stop, so a graceful
        # restart does not leave them leased (undeliverable) for `lease` seconds.
        self._inflight: set[int] = set()
        self._finished: list[dict[str, Any]] = []  # delivered, not yet recorded
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self.sent = 0
        self.failed = 0
        # Pending messages of sources this process has no sender for, by source: in a
        # multi-process deployment another process may send them; if none does, they
        # show here (and in /healthz) instead of waiting silently.
        self.unsendable: dict[str, int] = {}
        self._looked_at = 0.0
        # Sources whose last delivery failed (SMTP down, Bot API 5xx...), so /healthz
        # shows which channel cannot deliver; cleared by that source's next success.
        self.failing: dict[str, dict[str, Any]] = {}
        # A channel whose deliveries fail one after another (for different recipients:
        # any success in between resets the count) is down, not picky: its messages
        # wait here (monotonic deadline) instead of each using up a timeout and the
        # sender's rounds while the other channels' messages queue behind them.
        self._paused: dict[str, float] = {}

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="outbox-sender")

    async def stop(self, grace: float = 5.0) -> None:
        if self._task is None:
            return
        # Let the round in progress finish (a cancelled transaction can hold the
        # SQLite write lock); cancel only what outlasts the grace period.
        self._stopping = True
        self._wake.set()
        await asyncio.wait([self._task], timeout=grace)
        if not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task], timeout=grace)
        self._task = None
        if self._rounds:  # rounds left running in the background: same grace
            await asyncio.wait(self._rounds, timeout=grace)
            for task in list(self._rounds):
                task.cancel()
            if self._rounds:
                await asyncio.wait(self._rounds, timeout=grace)
        await self._flush_done()  # what was delivered is recorded before release
        if self._inflight:
            await self._release(sorted(self._inflight))
            self._inflight.clear()

    async def release_all_claims(self) -> int:
        """Free every claim; returns how many. Only for a process that knows it is the
        only sender alive (see `Service.start`): every claim left is a dead process's."""
        return await claims.release_all(self.sessions)

    async def _loop(self) -> None:
        while not self._stopping:
            # Clear before the round: a wake-up that arrives during it starts the next.
            self._wake.clear()
            if time.monotonic() - self._looked_at > UNSENDABLE_EVERY:
                self._looked_at = time.monotonic()
                try:
                    self.unsendable = await self._unsendable()
                except Exception:  # noqa: BLE001 - only a health figure
                    log.warning("could not count unsendable messages", exc_info=True)
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be briefly away
                log.exception("outbox round failed")
                worked = 0
            if worked:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def _unsendable(self) -> dict[str, int]:
        """Pending messages overdue by a minute whose source has no sender here."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Outbox.source, func.count())
                .where(Outbox.state == "pending",
                       Outbox.next_attempt_at <= utcnow() - timedelta(minutes=1),
                       Outbox.source.not_in(list(self.connectors) or [""]))
                .group_by(Outbox.source)
            )
            return {source: int(n) for source, n in rows}

    def _open_sources(self) -> list[str]:
        now = time.monotonic()
        return [s for s in self.connectors
                if self.may_send(s) and self._paused.get(s, 0.0) <= now]

    def health(self) -> dict[str, object]:
        return {"sent": self.sent, "failed": self.failed, "unsendable": dict(self.unsendable),
                "failing": {k: dict(v) for k, v in self.failing.items()}}

    async def run_once(self) -> int:
        """Claim a batch and deliver it; returns how many rows were attempted.

        A recipient whose channel is slow (a hung server waiting out its timeout) must
        not hold up everyone else's messages: after `round_wait` seconds the round goes
        on in the background and the next batch starts. Its rows stay claimed (and
        renewed) meanwhile, so they are neither sent twice nor overtaken by their
        recipient's later messages. At most `max_rounds` rounds run at once."""
        claimed = await self._claim()
        if not claimed:
            return 0
        task = asyncio.create_task(self._round(claimed))
        self._rounds.add(task)
        task.add_done_callback(self._round_done)
        await asyncio.wait([task], timeout=self.round_wait)
        while len(self._rounds) >= self.max_rounds:
            await asyncio.wait(self._rounds, return_when=asyncio.FIRST_COMPLETED)
        return len(claimed)

    def _round_done(self, task: asyncio.Task[None]) -> None:
        self._rounds.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox round failed", exc_info=task.exception())

    async def _round(self, claimed: list[tuple[OutboundMessage, str]]) -> None:
        groups: dict[tuple[str, str], list[OutboundMessage]] = {}
        for msg, recipient in claimed:
            groups.setdefault((msg.source, recipient), []).append(msg)
        ids = {msg.id for msg, _ in claimed}
        self._inflight |= ids
        # The claim is short and renewed while we work, so the claims of a process
        # killed mid-round free its recipients' queues within `lease` seconds.
        finished = asyncio.Event()
        renewal = asyncio.create_task(self._renew(sorted(ids), finished))
        try:
            # One recipient's messages go in order; different recipients in parallel.
            await asyncio.gather(*(self._deliver_in_order(msgs) for msgs in groups.values()))
        finally:
            # Not cancelled mid-write: a cancelled transaction can hold SQLite's lock.
            finished.set()
            await asyncio.wait([renewal], timeout=self.lease)
        await self._flush_done()
        self._inflight -= ids  # not in `finally`: a cancelled round is released by stop()

    async def _claim(self) -> list[tuple[OutboundMessage, str]]:
        """Claim due messages, keeping each recipient's order: a message is taken only
        when every older pending message of its recipient is taken with it. So a failed
        message (waiting for its retry) or one claimed elsewhere holds back the later
        ones of that recipient, and only of that recipient; a dead one holds back none."""
        # Only sources this process sends now: in a multi-replica deployment another
        # replica may own a channel (one poller per mailbox/account).
        sources = self._open_sources()
        if not sources:
            return []
        now = utcnow()
        if not await claims.anything_due(self.read_sessions, sources, now):
            return []
        rows = await claims.claim(self.sessions, sources, now, self.batch, self.lease)
        out = []
        for o, reporter, number, state, body in rows:
            recipient = None
            if reporter is not None:
                recipient = Author(handle=reporter.handle, name=reporter.name,
                                   email=reporter.email, phone=reporter.phone)
            message = OutboundMessage(
                id=o.id, source=o.source, body=body,
                ticket_number=number, ticket_state=state, recipient=recipient,
                attempts=o.attempts, created_at=o.created_at,
                survey_url=self._survey_url(body, number, o.reporter_id),
            )
            out.append((message, o.recipient))
        return out

    def _survey_url(self, body: MessageBody, number: str | None, reporter_id: int | None
                    ) -> str | None:
        if (self.survey_link is None or number is None or reporter_id is None
                or not isinstance(body, StatusChange) or body.after != "resolved"):
            return None
        return self.survey_link(number, reporter_id)

    async def _deliver_in_order(self, msgs: list[OutboundMessage]) -> None:
        for i, msg in enumerate(msgs):
            if not await self._deliver(msg):
                # Keep order: release the rest of this recipient's queue for later.
                await self._release([m.id for m in msgs[i + 1 :]])
                return

    async def _deliver(self, msg: OutboundMessage) -> bool:
        connector = self.connectors[msg.source]
        try:
            result = await asyncio.wait_for(connector.send(msg), self.send_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is retried
            await self._failed(msg, f"{type(exc).__name__}: {exc}")
            return False
        if result.retry_after is not None:
            await self._later(msg, result.retry_after)
            return False
        await self._done(msg, result)
        return True

    async def _done(self, msg: OutboundMessage, result: SendResult) -> None:
        """Record a delivery. Outcomes are written in groups (one transaction for all
        that finished meanwhile), not one transaction per message."""
        self._finished.append({
            "oid": msg.id, "state": "skipped" if result.skipped else "sent",
            "sent_at": utcnow(), "external_id": result.external_id,
        })
        if not result.skipped:
            self.sent += 1
        self.failing.pop(msg.source, None)
        self._paused.pop(msg.source, None)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_finished())

    async def _write_finished(self) -> None:
        while self._finished:
            rows, self._finished = self._finished, []
            async with self.sessions() as session, session.begin():
                await session.execute(_MARK_DONE, rows)

    async def _flush_done(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._finished:  # appended after the writer's last look
            await self._write_finished()

    async def _later(self, msg: OutboundMessage, seconds: float) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Outbox).where(Outbox.id == msg.id).values(
                    next_attempt_at=utcnow() + timedelta(seconds=max(0.0, seconds)),
                    claimed_until=None,
                )
            )

    async def _renew(self, ids: list[int], finished: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(finished.wait(), self.lease / 3)
                return
            except TimeoutError:
                pass
            try:
                await claims.renew(self.sessions, ids, self.lease)
            except Exception:  # noqa: BLE001 - the next renewal tries again
                log.warning("could not renew outbox claims", exc_info=True)

    async def _release(self, ids: list[int]) -> None:
        await claims.release(self.sessions, ids)

    async def _failed(self, msg: OutboundMessage, error: str) -> None:
        attempts = msg.attempts + 1
        dead = attempts >= self.max_attempts
        wait = backoff.delay(attempts, base=self.base_delay, cap=self.max_delay)
        self.failed += 1
        trouble = self.failing.setdefault(msg.source, {"consecutive_failures": 0})
        trouble["consecutive_failures"] += 1
        trouble["last_error"] = error[:300]
        now = time.monotonic()
        if (trouble["consecutive_failures"] >= PAUSE_AFTER
                and self._paused.get(msg.source, 0.0) <= now):
            # Messages in flight when the pause began fail too: they do not lengthen it.
            trouble["pauses"] = trouble.get("pauses", 0) + 1
            self._paused[msg.source] = now + backoff.delay(trouble["pauses"], base=1.0,
                                                           cap=60.0)
        log.warning("outbox delivery failed: %s", error,
                    extra={"connector": msg.source, "outbox_id": msg.id, "attempt": attempts})
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Outbox).where(Outbox.id == msg.id).values(
                    attempts=attempts, last_error=error[:2000], claimed_until=None,
                    state="dead" if dead else "pending",
                    next_attempt_at=utcnow() + timedelta(seconds=wait),
                )
            )
            if dead:
                row = await session.get(Outbox, msg.id)
                if row is not None and row.ticket_id is not None:
                    await record_events(session, [Event(
                        row.ticket_id, EventType.DELIVERY_FAILED, SYSTEM,
                        {"outbox_id": msg.id, "kind": row.kind, "channel": msg.source,
                         "error": error[:500]},
                    )])


_table: Table = Outbox.__table__  # type: ignore[assignment]
# Core (not ORM) so that a list of parameter sets runs as one executemany.
_MARK_DONE = (
    update(_table)
    .where(_table.c.id == bindparam("oid"))
    .values(
        state=bindparam("state"), sent_at=bindparam("sent_at"),
        external_id=bindparam("external_id"), attempts=_table.c.attempts + 1,
        claimed_until=None, last_error=None,
    )
)
