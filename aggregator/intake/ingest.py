"""The one door into storage for every connector, with group commit.

Each `submit()` waits until its reports are committed. Concurrent submissions are
gathered by one writer task into a single transaction: on SQLite a transaction costs
several thread hand-offs whatever its size, so batching is where throughput comes from
(and SQLite allows one writer anyway). If a batch fails, its jobs are retried one by
one so a poison report fails alone and never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.domain import IngestResult, Report
from aggregator.intake.pipeline import Pipeline
from storage import repo

log = logging.getLogger("aggregator.intake.ingest")


class IngestClosed(RuntimeError):
    """The daemon is shutting down and takes no new input."""


@dataclass(frozen=True, slots=True)
class Committed:
    """What one submission stored, per source (connector name), once it committed:
    new reports, reports it had already (re-deliveries), and seconds from `submit()`
    to the commit. Handed to commit hooks (operations metrics)."""

    source: str
    new_reports: int
    seen_before: int
    seconds: float


# Called after each commit with what it stored; must be quick and never raise.
CommitHook = Callable[[Sequence[Committed]], None]


@dataclass
class _Job:
    reports: Sequence[Report]
    cursor: dict[str, Any] | None
    connector: str | None
    future: asyncio.Future[list[IngestResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    started: float = field(default_factory=time.monotonic)


class Ingestor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pipeline: Pipeline,
        *,
        max_batch: int = 256,
        on_commit: Callable[[], None] | None = None,
        commit_hooks: Sequence[CommitHook] = (),
    ):
        self.sessions = sessions
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.commit_hooks = list(commit_hooks)
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.committed_reports = 0

    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._run(), name="ingest-writer")

    async def close(self) -> None:
        """Refuse new work, finish everything already submitted, then stop."""
        self._closed = True
        if self._writer is not None:
            await self._queue.join()
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
            self._writer = None

    async def submit(
        self,
        reports: Sequence[Report],
        *,
        cursor: dict[str, Any] | None = None,
        connector: str | None = None,
    ) -> list[IngestResult]:
        if self._closed:
            raise IngestClosed("ingest is shutting down")
        if cursor is not None and connector is None:
            raise ValueError("a cursor needs the connector it belongs to")
        if self._writer is None:
            await self.start()
        job = _Job([storable(r) for r in reports], cursor, connector)
        # CPU work on the reports (near-duplicate signatures) happens here, before
        # the write transaction: never while the writer holds the database lock.
        self.pipeline.prepare(job.reports)
        await self._queue.put(job)
        # Shielded: a caller that gives up (client disconnect) does not cancel a
        # commit that may already be under way; the result is simply not read.
        return await asyncio.shield(job.future)

    async def _run(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].reports)
            while size < self.max_batch and not self._queue.empty():
                job = self._queue.get_nowait()
                jobs.append(job)
                size += len(job.reports)
            try:
                await self._commit_jobs(jobs)
            finally:
                for _ in jobs:
                    self._queue.task_done()

    async def _commit_jobs(self, jobs: list[_Job]) -> None:
        try:
            results = await self._transaction(jobs)
        except Exception as exc:  # noqa: BLE001 - isolate, then report per job
            if len(jobs) == 1:
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(exc)
                log.warning("ingest failed: %s", exc, extra={"connector": jobs[0].connector})
                return
            for job in jobs:  # find the poison one; the rest commit alone
                await self._commit_jobs([job])
            return
        for job, res in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(res)
        self.committed_reports += sum(len(j.reports) for j in jobs)
        if self.on_commit is not None:
            self.on_commit()
        if self.commit_hooks:
            self._tell(jobs, results)

    def _tell(self, jobs: list[_Job], results: list[list[IngestResult]]) -> None:
        now = time.monotonic()
        done: list[Committed] = []
        for job, res in zip(jobs, results, strict=True):
            counts: dict[str, list[int]] = {}
            for report, r in zip(job.reports, res, strict=True):
                counts.setdefault(report.source, [0, 0])[0 if r.created_report else 1] += 1
            done += [Committed(src, new, old, now - job.started)
                     for src, (new, old) in counts.items()]
        for hook in self.commit_hooks:
            try:
                hook(done)
            except Exception:  # noqa: BLE001 - what a hook does never fails ingest
                log.exception("commit hook failed")

    async def _transaction(self, jobs: list[_Job]) -> list[list[IngestResult]]:
        for attempt in range(5):
            try:
                async with self.sessions() as session, session.begin():
                    flat = [r for job in jobs for r in job.reports]
                    results = await self.pipeline.ingest_batch(session, flat)
                    cursors: dict[str, dict[str, Any]] = {}
                    for job in jobs:  # the last cursor of a connector wins
                        if job.cursor is not None and job.connector is not None:
                            cursors[job.connector] = job.cursor
                    for name, cursor in cursors.items():
                        await repo.save_cursor(session, name, cursor)
                out, i = [], 0
                for job in jobs:
                    out.append(results[i : i + len(job.reports)])
                    i += len(job.reports)
                return out
            except (IntegrityError, OperationalError) as exc:
                # Another replica committed the same report (or held the lock) between
                # our read and our write: the retry will see its row.
                if attempt == 4 or not _retryable(exc):
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")


def _retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(
        s in text
        for s in ("unique", "duplicate key", "database is locked", "deadlock", "serializ")
    )


def _text(value: str) -> str:
    """Text any database can hold: no NUL (PostgreSQL refuses it), no lone surrogates
    (not encodable as UTF-8); both come from broken clients, never from people."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _maybe(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _json(value: Any) -> Any:
    """JSON with every string cleaned (PostgreSQL's jsonb refuses NUL as well)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(str(k)): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def storable(r: Report) -> Report:
    """The report with every text field cleaned (see `_text`)."""
    a = r.author
    return replace(
        r, text=_text(r.text), title=_maybe(r.title), body=_maybe(r.body),
        external_id=_text(r.external_id), ticket_ref=_maybe(r.ticket_ref),
        reply_to=tuple(_text(x) for x in r.reply_to), meta=_json(r.meta),
        author=replace(a, handle=_maybe(a.handle), name=_maybe(a.name),
                       email=_maybe(a.email), phone=_maybe(a.phone)),
        attachments=tuple(
            replace(f, filename=_maybe(f.filename), content_type=_maybe(f.content_type),
                    url=_maybe(f.url), note=_maybe(f.note))
            for f in r.attachments),
    )
