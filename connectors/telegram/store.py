"""The bot's reads and writes, each in its own short transaction.

Reports themselves go through `ctx.ingest` (with the cursor); this is everything
around them: who the user is (language, banned), which tickets are theirs, questions
the bot is waiting on, survey answers, attachments.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.domain import OPEN_STATES, TicketState
from storage import repo
from storage.models import Attachment, Outbox, Reporter, TelegramPending, Ticket
from storage.models import Report as ReportRow
from storage.types import utcnow

LANGUAGE_TTL = 300.0  # seconds; another replica's /lang shows up within this
LANGUAGE_CACHE = 20_000
RATED_STATES = (TicketState.RESOLVED.value, TicketState.CLOSED.value)
OPEN = frozenset(state.value for state in OPEN_STATES)


@dataclass(frozen=True, slots=True)
class Profile:
    language: str | None = None
    banned: bool = False


@dataclass(frozen=True, slots=True)
class Lookup:
    """Everything one incoming message needs from the database, read in one go."""

    profile: Profile
    report_id: int | None = None  # this message was already stored (a re-delivery)
    candidates: tuple[tuple[str, str], ...] = ()  # recent open tickets (number, title)


@dataclass(frozen=True, slots=True)
class FileRow:
    filename: str | None
    content_type: str | None
    size: int
    sha256: str | None
    url: str | None
    data: bytes | None
    note: str | None


class TelegramStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], source: str):
        self.sessions = sessions
        self.source = source
        # handle -> (language, read at): outgoing messages need the user's language and
        # would otherwise cost a database round trip each.
        self._languages: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    # ---------------------------------------------------------------- the user

    async def profile(self, handle: str) -> Profile:
        return (await self.lookup(handle)).profile

    async def language(self, handle: str) -> str | None:
        cached = self._languages.get(handle)
        if cached is not None and time.monotonic() - cached[1] < LANGUAGE_TTL:
            return cached[0]
        return (await self.lookup(handle)).profile.language

    def _remember_language(self, handle: str, language: str | None) -> None:
        self._languages[handle] = (language, time.monotonic())
        self._languages.move_to_end(handle)
        while len(self._languages) > LANGUAGE_CACHE:
            self._languages.popitem(last=False)

    async def lookup(self, handle: str, external_id: str | None = None,
                     since: datetime | None = None) -> Lookup:
        """The user's profile; with `external_id`, whether that message is stored; with
        `since`, their open tickets active since then. One short transaction: on
        SQLite every transaction queues for the single write lock, so fewer is faster."""
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(Reporter.id, Reporter.language, Reporter.banned).where(
                        Reporter.source == self.source, Reporter.handle == handle
                    )
                )
            ).first()
            if row is None:
                self._remember_language(handle, None)
                return Lookup(Profile())
            profile = Profile(row.language, bool(row.banned))
            self._remember_language(handle, row.language)
            report_id = None
            if external_id is not None:
                report_id = (
                    await s.execute(
                        select(ReportRow.id).where(ReportRow.source == self.source,
                                                   ReportRow.external_id == external_id)
                    )
                ).scalar_one_or_none()
            candidates: list[tuple[str, str]] = []
            if since is not None and report_id is None:
                candidates = await self._candidates(s, row.id, since)
        return Lookup(profile, report_id, tuple(candidates))

    async def set_language(self, handle: str, name: str | None, language: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(
                repo.insert_ignore(s, Reporter, ["source", "handle"]).values(
                    source=self.source, handle=handle, name=name, banned=False,
                    created_at=utcnow(),
                )
            )
            await s.execute(
                update(Reporter)
                .where(Reporter.source == self.source, Reporter.handle == handle)
                .values(language=language)
            )
        self._remember_language(handle, language)

    # ---------------------------------------------------------------- reports

    async def has_attachments(self, report_id: int) -> bool:
        async with self.sessions() as s:
            found = await s.execute(
                select(Attachment.id).where(Attachment.report_id == report_id).limit(1)
            )
            return found.first() is not None

    async def add_attachments(self, report_id: int, files: Sequence[FileRow]) -> None:
        """Store files once per report (a re-delivered update finds them present)."""
        if not files:
            return
        async with self.sessions() as s, s.begin():
            exists = await s.execute(
                select(Attachment.id).where(Attachment.report_id == report_id).limit(1)
            )
            if exists.first() is not None:
                return
            now = utcnow()
            s.add_all(
                Attachment(report_id=report_id, filename=f.filename, content_type=f.content_type,
                           size=f.size, sha256=f.sha256, url=f.url, data=f.data, note=f.note,
                           created_at=now)
                for f in files
            )

    # ---------------------------------------------------------------- tickets

    async def my_tickets(self, handle: str, limit: int) -> list[Ticket]:
        """The user's tickets (merges followed), most recently active first."""
        async with self.sessions() as s:
            rows = (
                await s.execute(repo.reporter_tickets_query(self.source, handle).limit(limit))
            ).scalars().all()
            out: dict[int, Ticket] = {}
            for t in rows:
                final = await repo.resolve_ticket(s, t)
                if final is not None:
                    out.setdefault(final.id, final)
            return list(out.values())

    async def my_ticket(self, handle: str, number: str) -> Ticket | None:
        async with self.sessions() as s:
            return await self._owned(s, handle, number)

    async def _owned(self, s: AsyncSession, handle: str, number: str) -> Ticket | None:
        """The ticket `number` if this user reported on it (or on a ticket merged into
        it); None otherwise, so nobody learns about other people's tickets."""
        number = number.strip().upper()
        base = repo.reporter_tickets_query(self.source, handle)
        direct = (await s.execute(base.where(Ticket.number == number))).scalars().first()
        if direct is not None:
            return direct
        merged = (
            await s.execute(base.where(Ticket.merged_into_id.is_not(None)).limit(200))
        ).scalars().all()
        for t in merged:
            final = await repo.resolve_ticket(s, t)
            if final is not None and final.number == number:
                return final
        return None

    async def _candidates(
        self, s: AsyncSession, reporter_id: int, since: datetime, limit: int = 5
    ) -> list[tuple[str, str]]:
        """(number, title) of the reporter's open tickets with contact since `since`: a
        report from them, or a reply / status message to them on that ticket."""
        rows = (
            await s.execute(
                select(Ticket, func.max(ReportRow.received_at))
                .join(ReportRow, ReportRow.ticket_id == Ticket.id)
                .where(ReportRow.reporter_id == reporter_id)
                .group_by(Ticket.id)
            )
        ).all()
        last: dict[int, datetime] = {}
        tickets: dict[int, Ticket] = {}
        for ticket, at in rows:
            final = await repo.resolve_ticket(s, ticket)
            if final is None or final.state not in OPEN:
                continue
            tickets[final.id] = final
            last[final.id] = max(at, last.get(final.id, at))
        if not tickets:
            return []
        contacted = await s.execute(
            select(Outbox.ticket_id, func.max(Outbox.created_at))
            .where(Outbox.ticket_id.in_(list(tickets)), Outbox.reporter_id == reporter_id,
                   Outbox.source == self.source, Outbox.kind.in_(("reply", "status")))
            .group_by(Outbox.ticket_id)
        )
        for tid, at in contacted:
            if at is not None and at > last[tid]:
                last[tid] = at
        recent = sorted((t for t in tickets if last[t] >= since), key=lambda t: last[t],
                        reverse=True)
        return [(tickets[t].number, tickets[t].title) for t in recent[:limit]]

    # ---------------------------------------------------------------- survey

    async def rate(self, handle: str, number: str, score: int, label: str) -> Ticket | None:
        """Store an IKM answer on a resolved ticket of this user; None if not allowed."""
        async with self.sessions() as s, s.begin():
            ticket = await self._owned(s, handle, number)
            if ticket is None or ticket.state not in RATED_STATES:
                return None
            if ticket.satisfaction != score:
                ticket.satisfaction = score
                await repo.add_event(s, ticket.id, f"reporter:{self.source}:{handle}", "survey",
                                     {"score": score, "label": label, "channel": "telegram",
                                      "source": self.source})
            return ticket

    async def comment(self, handle: str, number: str, text: str) -> bool:
        async with self.sessions() as s, s.begin():
            ticket = await self._owned(s, handle, number)
            if ticket is None:
                return False
            ticket.satisfaction_comment = text[:4000]
            await repo.add_event(s, ticket.id, f"reporter:{self.source}:{handle}",
                                 "survey_comment", {"text": text[:4000], "source": self.source})
            return True

    # ---------------------------------------------------------------- held questions

    async def hold(self, chat_id: int, kind: str, ref: str, data: dict[str, Any]) -> int:
        """Remember a question (idempotent on chat, kind, ref); returns its id."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                repo.insert_ignore(s, TelegramPending, ["source", "chat_id", "kind", "ref"])
                .values(source=self.source, chat_id=str(chat_id), kind=kind, ref=ref,
                        data=data, created_at=utcnow())
            )
            return (
                await s.execute(
                    select(TelegramPending.id).where(
                        TelegramPending.source == self.source,
                        TelegramPending.chat_id == str(chat_id),
                        TelegramPending.kind == kind, TelegramPending.ref == ref,
                    )
                )
            ).scalar_one()

    async def held(self, pending_id: int, chat_id: int) -> TelegramPending | None:
        async with self.sessions() as s:
            row = await s.get(TelegramPending, pending_id)
        if row is None or row.source != self.source or row.chat_id != str(chat_id):
            return None
        return row

    async def held_by_ref(self, chat_id: int, kind: str, ref: str) -> TelegramPending | None:
        async with self.sessions() as s:
            return (
                await s.execute(
                    select(TelegramPending).where(
                        TelegramPending.source == self.source,
                        TelegramPending.chat_id == str(chat_id),
                        TelegramPending.kind == kind, TelegramPending.ref == ref,
                    )
                )
            ).scalar_one_or_none()

    async def add_extra(self, pending_id: int, draft: dict[str, Any]) -> None:
        """Attach another message (an album's next photo) to a held question."""
        async with self.sessions() as s, s.begin():
            row = await s.get(TelegramPending, pending_id, with_for_update=True)
            if row is None:
                return
            extra = list(row.data.get("extra") or [])
            if draft["external_id"] not in {e["external_id"] for e in extra}:
                extra.append(draft)
            row.data = {**row.data, "extra": extra}

    async def release(self, pending_id: int) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(delete(TelegramPending).where(TelegramPending.id == pending_id))

    async def due(self, kind: str, before: datetime, limit: int = 100) -> list[TelegramPending]:
        async with self.sessions() as s:
            return list(
                (
                    await s.execute(
                        select(TelegramPending)
                        .where(TelegramPending.source == self.source,
                               TelegramPending.kind == kind,
                               TelegramPending.created_at < before)
                        .order_by(TelegramPending.id)
                        .limit(limit)
                    )
                ).scalars()
            )

    async def save_cursor(self, cursor: dict[str, Any]) -> None:
        async with self.sessions() as s, s.begin():
            await repo.save_cursor(s, self.source, cursor)
