"""The intake loop of one IMAP folder, and the batch step shared by all folders.

Order per batch, which is what makes a crash at any point safe:
  1. fetch + parse in the folder's thread (BODY.PEEK: nothing is marked read yet);
  2. bounces -> delivery feedback on the ticket (idempotent);
  3. reports with their attachments + cursor {folder: uidvalidity, last_uid, pending}
     in ONE ingest commit;
  4. \\Seen / MOVE on the server.
`pending` names the UIDs of the last committed batch whose step 4 may not have
happened; a restart replays exactly those (ingest is idempotent on Message-ID).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aggregator.domain import Attachment, Author, IngestResult, Report
from aggregator.intake.ingest import IngestClosed
from aggregator.intake.port import ConnectorContext
from aggregator.runtime import backoff
from connectors.email.imap import IMAP_ERRORS, Fetched, FolderSession
from connectors.email.parse import Limits, ParsedMail, ticket_ref
from connectors.email.settings import EmailSettings
from connectors.email.textual import one_line

T = TypeVar("T")
CHANNEL = "email"


@dataclass
class FolderHealth:
    connected: bool = False
    uidvalidity: int | None = None
    last_uid: int = 0
    last_sync: float | None = None
    last_error: str | None = None
    errors: int = 0
    idle: bool = False


class SubjectCache:
    """Subjects of recently ingested mail by Message-ID, so the acknowledgement that
    follows a commit needs no database read to thread and title itself."""

    def __init__(self, size: int = 20_000):
        self.size = size
        self._data: OrderedDict[str, str] = OrderedDict()

    def put(self, external_id: str, subject: str) -> None:
        self._data[external_id] = subject
        self._data.move_to_end(external_id)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def get(self, external_id: str) -> str | None:
        return self._data.get(external_id)


@dataclass
class Counters:
    reports: int = 0
    bounces: int = 0
    bounces_unmatched: int = 0
    notices: int = 0
    attachments: int = 0
    quarantined: int = 0
    no_ack: dict[str, int] = field(default_factory=dict)
    subjects: SubjectCache = field(default_factory=SubjectCache)


class CursorBook:
    """The connector's cursor {folder: {uidvalidity, last_uid, pending}}.

    Folders commit one at a time under a lock, each with the whole dict, so one
    folder's commit can never carry another folder's uncommitted position."""

    def __init__(self, ctx: ConnectorContext):
        self.ctx = ctx
        self.state: dict[str, dict[str, Any]] = {}
        self.lock = asyncio.Lock()
        self.loaded = False

    async def load(self) -> None:
        if not self.loaded:
            raw = await self.ctx.load_cursor()
            self.state = {k: dict(v) for k, v in raw.items() if isinstance(v, dict)}
            self.loaded = True

    def folder(self, name: str) -> dict[str, Any]:
        return dict(self.state.get(name, {}))

    async def commit(self, folder: str, reports: list[Report], entry: dict[str, Any]
                     ) -> list[IngestResult]:
        async with self.lock:
            cursor = {**self.state, folder: entry}
            results = await self.ctx.ingest(reports, cursor=cursor)
            self.state = cursor
            return results


class FolderIntake:
    def __init__(self, ctx: ConnectorContext, settings: EmailSettings, folder: str,
                 book: CursorBook, counters: Counters, stop: threading.Event):
        self.ctx = ctx
        self.settings = settings
        self.folder = folder
        self.book = book
        self.counters = counters
        self.stop = stop
        self.health = FolderHealth()
        self.log = ctx.log
        limits = Limits(
            max_attachments=settings.attachments.max_count,
            max_attachment_bytes=settings.attachments.max_bytes,
            own_addresses=settings.our_addresses(),
        )
        self.imap = FolderSession(settings.imap, folder, stop, limits,
                                  settings.max_message_bytes, settings.processed_folder)
        self.executor: ThreadPoolExecutor | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self.executor is None:
            raise RuntimeError("folder intake is not running")
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run(self) -> None:
        """Connect, catch up, wait for news; on connection trouble back off and retry."""
        # One thread per folder (per run), so its IMAPClient only sees that thread.
        self.executor = ThreadPoolExecutor(max_workers=1,
                                           thread_name_prefix=f"imap-{self.folder}")
        failures = 0
        try:
            while not self.stop.is_set():
                synced = self.health.last_sync
                try:
                    await self._session()
                except IMAP_ERRORS as exc:
                    if self.health.last_sync != synced:
                        # The session worked before it broke: a new outage, not more
                        # of the last one. (Else every blip over months adds up and
                        # a routine server restart waits out the 300 s cap.)
                        failures = 0
                    self.health.connected = False
                    self.health.errors += 1
                    self.health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    failures += 1
                    wait = backoff.delay(failures, base=1.0, cap=300.0)
                    self.log.warning("imap %s: %s; retrying in %.0f s",
                                     self.folder, self.health.last_error, wait)
                    await asyncio.sleep(wait)
                    continue
                failures = 0
        finally:
            self.health.connected = False
            self.stop.set()
            await asyncio.shield(self._shutdown())

    async def _shutdown(self) -> None:
        try:
            await self._call(self.imap.close)
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=False)
                self.executor = None

    async def _session(self) -> None:
        await self.book.load()
        uidvalidity = await self._call(self.imap.connect)
        self.health.connected, self.health.uidvalidity = True, uidvalidity
        self.health.idle = self.imap.can_idle
        entry = self.book.folder(self.folder)
        if entry and entry.get("uidvalidity") != uidvalidity:
            # The mailbox was rebuilt: UIDs mean nothing now. Read it all again;
            # Message-IDs (or content hashes) keep ingest from duplicating anything.
            self.log.warning("imap %s: UIDVALIDITY changed %s -> %s, rescanning",
                             self.folder, entry.get("uidvalidity"), uidvalidity)
            entry = {}
        last_uid = int(entry.get("last_uid", 0))
        pending = [int(u) for u in entry.get("pending", [])]
        if pending:  # a batch committed before a crash, maybe not flagged yet
            await self._process(uidvalidity, await self._call(self.imap.existing, pending),
                                last_uid)
        while not self.stop.is_set():
            uids = await self._call(self.imap.uids_after, last_uid)
            if uids:
                last_uid = await self._process(uidvalidity, uids, last_uid)
                continue
            entry = self.book.folder(self.folder)
            if entry.get("pending") or entry.get("uidvalidity") != uidvalidity:
                await self.book.commit(self.folder, [], {
                    "uidvalidity": uidvalidity, "last_uid": last_uid, "pending": []})
            self.health.last_sync = time.time()
            if self.imap.can_idle:
                await self._call(self.imap.wait_idle, self.settings.imap.poll_interval)
            else:
                await asyncio.sleep(self.settings.imap.poll_interval)

    async def _process(self, uidvalidity: int, uids: list[int], last_uid: int) -> int:
        """Fetch, commit and mark `uids` batch by batch; returns the new last UID.

        The next batch is fetched and parsed (in the folder's thread) while this one
        commits (in the database's thread): the two overlap instead of taking turns."""
        ahead: asyncio.Future[tuple[list[Fetched], int]] | None = self._fetch(uids)
        try:
            while ahead is not None and not self.stop.is_set():
                fetched, consumed = await ahead
                batch, uids = uids[:consumed], uids[consumed:]
                ahead = self._fetch(uids)
                last_uid = max(last_uid, *batch)
                await self._commit(uidvalidity, fetched, batch, last_uid)
                await self._call(self.imap.mark_done, [f.uid for f in fetched])
                self.health.last_uid = last_uid
        finally:
            if ahead is not None:
                ahead.cancel()
                ahead.add_done_callback(_consume)
        return last_uid

    def _fetch(self, uids: list[int]) -> asyncio.Future[tuple[list[Fetched], int]] | None:
        if not uids:
            return None
        return asyncio.ensure_future(self._call(self.imap.fetch, list(uids)))

    async def _commit(self, uidvalidity: int, fetched: list[Fetched], batch: list[int],
                      last_uid: int) -> None:
        bounces = [f.mail for f in fetched if f.mail.category == "bounce"]
        if bounces:
            # Shielded, like every short write here: a transaction cancelled half-way
            # can leave its pooled connection holding SQLite's write lock.
            recorded, unmatched = await asyncio.shield(self._record_bounces(bounces))
            self.counters.bounces += recorded
            self.counters.bounces_unmatched += unmatched
        self.counters.notices += sum(f.mail.category == "notice" for f in fetched)
        mails = [f.mail for f in fetched if f.mail.category == "complaint"]
        reports = [self.to_report(m) for m in mails]
        for m in mails:
            self.counters.subjects.put(m.external_id, m.subject)
        entry = {"uidvalidity": uidvalidity, "last_uid": last_uid, "pending": batch}
        stored = await self._ingest(reports, entry)
        self.counters.reports += sum(res.created_report for _, res in stored)
        # Attachments commit with their report, and only with a new one.
        self.counters.attachments += sum(
            len(report.attachments) for report, res in stored if res.created_report)

    async def _record_bounces(self, bounces: list[ParsedMail]) -> tuple[int, int]:
        """Delivery feedback for each bounce of a mail we sent (matched by the core
        through the outbox's external id). Returns (recorded, unmatched)."""
        recorded = unmatched = 0
        for mail in bounces:
            info = mail.bounce
            if info is None:
                unmatched += 1
                continue
            done = await self.ctx.delivery_feedback(
                message_ids=info.original_ids, delayed=info.action == "delayed",
                feedback_id=mail.external_id,
                data={"bounce_id": mail.external_id, "recipients": info.recipients[:10],
                      "status": info.status, "diagnostic": info.diagnostic,
                      "subject": mail.subject},
            )
            if done is None:
                unmatched += 1
            elif done:
                recorded += 1
        return recorded, unmatched

    async def _ingest(self, reports: list[Report], entry: dict[str, Any]
                      ) -> list[tuple[Report, IngestResult]]:
        """One commit for the batch; if it fails, each report alone, and a report that
        still fails is replaced by a placeholder so one poison mail holds up nothing.
        Returns each report as stored (the placeholder, if it came to that) with its
        result."""
        try:
            results = await self.book.commit(self.folder, reports, entry)
            return list(zip(reports, results, strict=True))
        except IngestClosed:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the poison below
            if not reports:
                raise
            self.log.warning("imap %s: batch commit failed (%s); one by one", self.folder, exc)
        stored: list[tuple[Report, IngestResult]] = []
        for report in reports:
            try:
                (res,) = await self.ctx.ingest([report])
            except IngestClosed:
                raise
            except Exception as exc:  # noqa: BLE001
                self.log.error("imap %s: quarantined %s: %s", self.folder,
                               report.external_id, exc)
                self.counters.quarantined += 1
                report = quarantine(report, exc)
                try:
                    (res,) = await self.ctx.ingest([report])
                except IngestClosed:
                    raise
                except Exception:  # noqa: BLE001 - then the files were the poison
                    report = dataclasses.replace(report, attachments=())
                    (res,) = await self.ctx.ingest([report])
            stored.append((report, res))
        await self.book.commit(self.folder, [], entry)
        return stored

    def to_report(self, mail: ParsedMail) -> Report:
        return build_report(mail, self.ctx.name, self.ctx.settings.tickets.prefix,
                            self.settings, self.folder, self.counters)


def _consume(future: asyncio.Future[Any]) -> None:
    """Read a dropped prefetch's outcome so its error is not logged as unhandled."""
    if not future.cancelled():
        future.exception()


def build_report(mail: ParsedMail, source: str, prefix: str, settings: EmailSettings,
                 folder: str, counters: Counters | None = None) -> Report:
    text = mail.text
    if mail.oversized:
        text = (f"Email ini terlalu besar ({mail.size} byte; batas "
                f"{settings.max_message_bytes} byte) sehingga isinya tidak diambil. "
                f"Subjek: {mail.subject or '(kosong)'}. Mohon hubungi pengirim.")
    elif not text.strip():
        names = ", ".join(a.filename or a.content_type for a in mail.attachments[:5])
        text = " ".join(x for x in (mail.subject, f"(lampiran: {names})" if names else "")
                        if x) or "(email tanpa isi)"
    meta = dict(mail.meta)
    meta.update({
        "folder": folder,
        "size": mail.size,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "sha256": a.sha256, "stored": a.data is not None, "note": a.note}
            for a in mail.attachments
        ],
    })
    if mail.defects:
        meta["defects"] = mail.defects
    if mail.oversized:
        meta["oversized"] = True
    if mail.no_ack_reason:
        meta["no_ack"] = mail.no_ack_reason
        if counters is not None:
            counters.no_ack[mail.no_ack_reason] = counters.no_ack.get(mail.no_ack_reason, 0) + 1
    return Report(
        source=source, channel=CHANNEL, external_id=mail.external_id, text=text,
        author=Author(handle=mail.sender, name=mail.sender_name, email=mail.sender),
        title=mail.subject or None,
        body=mail.body if mail.body and mail.body != text else None,
        sent_at=mail.sent_at, reply_to=mail.reply_to_ids,
        ticket_ref=ticket_ref(mail.subject, prefix), ack=mail.no_ack_reason is None,
        meta=meta,
        attachments=tuple(
            Attachment(filename=a.filename, content_type=a.content_type, size=a.size,
                       sha256=a.sha256, data=a.data, note=a.note)
            for a in mail.attachments
        ),
    )


def quarantine(report: Report, exc: Exception) -> Report:
    """A minimal stand-in for a report the database refused: staff still see that a
    mail arrived, from whom, and can read it in the mailbox. It keeps the mail's files
    (dropped by the caller if they were what the database refused)."""
    return Report(
        source=report.source, channel=report.channel, external_id=report.external_id,
        text=f"Email ini tidak dapat disimpan utuh ({one_line(str(exc), 200)}). "
             f"Subjek: {one_line(report.title or '', 200)}",
        author=Author(handle=(report.author.handle or "")[:320] or None),
        title=one_line(report.title or "", 200) or None,
        meta={"quarantined": True, "folder": report.meta.get("folder")},
        attachments=report.attachments,
    )

