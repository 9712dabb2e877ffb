"""`EmailConnector`: IMAP intake (one worker thread per folder) and SMTP replies.

Intake lives in `intake.py`; this class wires it to the core and turns outbox rows
(ack, reply, status) into threaded mails. Nothing here answers a mail that must not be
answered: that was decided at parse time (Report.ack) and is checked again here.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from aggregator.config import ConnectorSettings
from aggregator.intake.port import Connector, ConnectorContext
from aggregator.messages import Ack, OutboundMessage, Reply, SendResult, StaffNotice, StatusChange
from connectors.email.compose import Composer
from connectors.email.intake import Counters, CursorBook, FolderIntake
from connectors.email.settings import EmailSettings
from connectors.email.smtp import PermanentFailure, SmtpSender

ACK_SENDERS_PRUNE = 1024  # senders counted before idle ones are forgotten
# Acks for reports that continue a conversation would only invite a loop.
NO_ACK_REASONS = frozenset({"reply", "ticket_ref", "existing"})


class EmailConnector(Connector):
    Settings: ClassVar[type[ConnectorSettings]] = EmailSettings
    settings: EmailSettings

    def __init__(self, settings: ConnectorSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        assert isinstance(settings, EmailSettings)
        self._stop = threading.Event()
        self.counters = Counters()
        self.book = CursorBook(ctx)
        self.folders = [
            FolderIntake(ctx, settings, folder, self.book, self.counters, self._stop)
            for folder in settings.imap.folders
        ]
        smtp = settings.smtp
        self.smtp = SmtpSender(smtp) if smtp else None
        self.composer = (
            Composer(smtp.from_address, smtp.from_name, settings.language,
                     ctx.settings.web.public_url)
            if smtp else None
        )
        self._acks: dict[str, deque[float]] = {}  # sender -> ack times, the last hour
        self._acks_prune_at = ACK_SENDERS_PRUNE
        self._acks_before: dict[str, int] | None = None
        self._acks_lock = asyncio.Lock()
        self.skipped: dict[str, int] = {}

    # ------------------------------------------------------------------ intake

    async def run(self) -> None:
        self._stop.clear()
        tasks = [asyncio.create_task(f.run(), name=f"email:{self.name}:{f.folder}")
                 for f in self.folders]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a folder loop only ends by raising: crash = restart
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        self._stop.set()
        if self.smtp is not None:
            await self.smtp.close()

    def exclusive(self) -> bool:
        return True  # one IMAP poller per mailbox

    def health(self) -> dict[str, Any]:
        c = self.counters
        return {
            "folders": {f.folder: vars(f.health).copy() for f in self.folders},
            "reports": c.reports, "bounces": c.bounces,
            "bounces_unmatched": c.bounces_unmatched, "notices": c.notices,
            "attachments": c.attachments, "quarantined": c.quarantined,
            "not_acknowledged": dict(c.no_ack),
            "sent": self.smtp.sent if self.smtp else 0, "send_skipped": dict(self.skipped),
        }

    # ------------------------------------------------------------------ outbox

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.smtp is None or self.composer is None:
            return self._skip("no smtp configured")
        if isinstance(message.body, StaffNotice):
            return await self._notice(message, message.body)
        recipient = message.recipient
        to = (recipient.email if recipient else None) or message.reporter_handle
        if not to or "@" not in to:
            return self._skip("no address")
        if to.lower() in self.settings.our_addresses():
            return self._skip("our own address")
        body = message.body
        number = message.ticket_number
        name = recipient.name if recipient else None
        extra: dict[str, Any] = {}
        if isinstance(body, Ack):
            if body.reason in NO_ACK_REASONS:
                return self._skip("conversation continues")
            if not await self._ack_allowed(message.reporter_handle or to):
                return self._skip("ack rate limit")
            template = "ack_new" if body.new_ticket else "ack_existing"
            ids = [body.report_external_id]
            auto = True
        elif isinstance(body, Reply):
            template = "reply"
            ids = list(reversed(body.report_external_ids))  # oldest first
            auto, extra = False, {"text": body.text, "staff": body.staff}
        elif isinstance(body, StatusChange) and body.after == "resolved":
            template = "resolved"
            ids = list(reversed(body.report_external_ids))
            auto, extra = True, {"survey_url": message.survey_url}
        else:
            return self._skip(f"kind {message.kind}")
        thread = await self._thread(number, [i for i in ids if i])
        msg_id = self.composer.message_id(number, message.kind, message.id)
        mail = self.composer.build(
            template, to=to, message_id=msg_id, thread_ids=thread["ids"], auto=auto,
            ticket_number=number, name=name, subject=_strip_tags(thread["subject"], number),
            **extra,
        )
        try:
            await self.smtp.send(mail)
        except PermanentFailure as exc:
            self.log.warning("email %s to %s refused for good: %s", message.kind, to, exc)
            return self._skip("recipient refused")
        return SendResult(external_id=msg_id)

    async def _notice(self, message: OutboundMessage, body: StaffNotice) -> SendResult:
        """A notification to staff: to the configured address, not threaded."""
        assert self.smtp is not None and self.composer is not None
        if "@" not in body.target:
            return self._skip("no address")
        msg_id = self.composer.message_id(message.ticket_number, message.kind, message.id)
        mail = self.composer.build("notify", to=body.target, message_id=msg_id, thread_ids=[],
                                   auto=True, subject=body.subject, text=body.text,
                                   ticket_number=message.ticket_number)
        try:
            await self.smtp.send(mail)
        except PermanentFailure as exc:
            self.log.warning("notification to %s refused for good: %s", body.target, exc)
            return self._skip("recipient refused")
        return SendResult(external_id=msg_id)

    async def _thread(self, number: str | None, ids: list[str]) -> dict[str, Any]:
        """Subject and ids to thread under; from memory for mail we just ingested
        (the usual acknowledgement), from the database otherwise. Database reads
        here compete with ingest for SQLite's single writer lock, so they are rare."""
        cache = self.counters.subjects
        subjects = [cache.get(i) for i in ids]
        if ids and all(s is not None for s in subjects):
            return {"subject": next((s for s in subjects if s), ""), "ids": ids}
        found = await self.ctx.thread(number, ids)
        known = [i for i in ids if i in found.titles]
        subject = next((found.titles[i] for i in known if found.titles[i]), None)
        return {"subject": subject or found.ticket_title or "", "ids": known}

    async def _ack_allowed(self, handle: str) -> bool:
        """At most max_acks_per_hour per sender, counted in memory; the last hour's
        counts are read from the database once, so a restart keeps the guard."""
        limit = self.settings.max_acks_per_hour
        key = handle.lower()
        if self._acks_before is None:
            async with self._acks_lock:
                if self._acks_before is None:
                    self._acks_before = await self.ctx.sent_counts(
                        "ack", datetime.now(UTC) - timedelta(hours=1))
        now = time.monotonic()
        recent = self._acks.get(key)
        if recent is None:
            if len(self._acks) >= self._acks_prune_at:
                self._forget_idle_senders(now)
            seeded = min(self._acks_before.get(key, 0), limit)
            recent = self._acks[key] = deque([now] * seeded)
        while recent and now - recent[0] > 3600:
            recent.popleft()
        if len(recent) >= limit:
            return False
        recent.append(now)
        return True

    def _forget_idle_senders(self, now: float) -> None:
        """Most senders write once: without this, every sender ever acknowledged kept
        a deque (~700 bytes). A sender with no ack in the last hour has nothing left
        to count. Amortised: runs again when the live senders have doubled."""
        idle = [k for k, q in self._acks.items() if not q or now - q[-1] > 3600]
        for k in idle:
            del self._acks[k]
            if self._acks_before:
                self._acks_before.pop(k, None)  # counted before the restart: older still
        self._acks_prune_at = max(ACK_SENDERS_PRUNE, 2 * len(self._acks))

    def _skip(self, why: str) -> SendResult:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        return SendResult(skipped=True)


def _strip_tags(subject: str, number: str | None) -> str:
    """The citizen's subject without our tag and reply prefixes (we add our own)."""
    s = subject or ""
    if number:
        s = s.replace(f"[{number}]", " ")
    while True:
        new = re.sub(r"^\s*(re|fwd?|aw|tr|balas)\s*:\s*", "", s, flags=re.IGNORECASE)
        if new == s:
            break
        s = new
    return " ".join(s.split())[:200]
