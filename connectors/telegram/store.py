"""The bot's reads and writes, as a thin adapter over the connector port.

Reports themselves go through `ingest` (with the cursor and their files); this is
everything around them: who the user is (language, banned), which tickets are theirs,
questions the bot is waiting on (the port's records, keyed `"{chat_id}:{ref}"`) and
survey answers. The adapter adds a language cache to the port (every outgoing message
needs the user's language). A database outage surfaces as the port's
`StoreUnavailable`, which tells a failed read or write apart from a poison update.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.domain import OVERALL_RATING, IngestResult, Report
from aggregator.intake.port import ConnectorContext, StoreUnavailable, TicketView
from aggregator.intake.records import Record

LANGUAGE_TTL = 300.0  # seconds; another replica's /lang shows up within this
LANGUAGE_CACHE = 20_000
CHANNEL = "telegram"

__all__ = ["Lookup", "Profile", "StoreUnavailable", "TelegramStore"]
@dataclass(frozen=True, slots=True)
class Profile:
    language: str | None = None
    banned: bool = False


@dataclass(frozen=True, slots=True)
class Lookup:
    """Everything one incoming message needs from the core."""

    profile: Profile
    report_id: int | None = None  # this message was already stored (a re-delivery)
    candidates: tuple[tuple[str, str], ...] = ()  # recent open tickets (number, title)


class TelegramStore:
    def __init__(self, ctx: ConnectorContext):
        self.ctx = ctx
        self.records = ctx.records
        # handle -> (language, read at): outgoing messages need the user's language and
        # would otherwise cost a database round trip each.
        self._languages: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    # ---------------------------------------------------------------- reports

    async def ingest(self, reports: Sequence[Report], cursor: dict[str, Any] | None
                     ) -> list[IngestResult]:
        """Reports with their files and the cursor, committed together."""
        return await self.ctx.ingest(reports, cursor=cursor)

    # ---------------------------------------------------------------- the user

    async def profile(self, handle: str) -> Profile:
        return (await self.lookup(handle)).profile

    async def language(self, handle: str) -> str | None:
        cached = self._languages.get(handle)
        if cached is not None and time.monotonic() - cached[1] < LANGUAGE_TTL:
            return cached[0]
        return (await self.lookup(handle)).profile.language

    def _remember_language(self, handle: str, language: str | None) -> None:
        now = time.monotonic()
        self._languages[handle] = (language, now)
        self._languages.move_to_end(handle)
        # Oldest first: past LANGUAGE_TTL an entry is read again anyway, so keeping it
        # only held memory (most chats write once; the cache used to fill to its size).
        while self._languages:
            _, read_at = next(iter(self._languages.values()))
            if len(self._languages) <= LANGUAGE_CACHE and now - read_at < LANGUAGE_TTL:
                break
            self._languages.popitem(last=False)

    async def lookup(self, handle: str, external_id: str | None = None,
                     since: datetime | None = None) -> Lookup:
        """The user's profile; with `external_id`, whether that message is stored; with
        `since`, their open tickets active since then."""
        who = await self.ctx.reporter(handle)
        if who is None:
            self._remember_language(handle, None)
            return Lookup(Profile())
        profile = Profile(who.language, who.banned)
        self._remember_language(handle, who.language)
        report_id = None
        if external_id is not None:
            report_id = await self.ctx.stored_report_id(external_id)
        candidates: tuple[tuple[str, str], ...] = ()
        if since is not None and report_id is None:
            candidates = tuple((t.number, t.title)
                               for t in await self.ctx.recently_active(who.id, since))
        return Lookup(profile, report_id, candidates)

    async def set_language(self, handle: str, name: str | None, language: str) -> None:
        await self.ctx.set_language(handle, name, language)
        self._remember_language(handle, language)

    # ---------------------------------------------------------------- tickets

    async def my_tickets(self, handle: str, limit: int) -> list[TicketView]:
        """The user's tickets (merges followed), most recently active first."""
        return await self.ctx.reporter_tickets(handle, limit)

    async def my_ticket(self, handle: str, number: str) -> TicketView | None:
        """Ticket `number` if this user reported on it (or on a ticket merged into it);
        None otherwise, so nobody learns about other people's tickets."""
        return await self.ctx.reporter_ticket(handle, number)

    # ---------------------------------------------------------------- survey

    async def rate(self, handle: str, number: str, score: int, label: str
                   ) -> TicketView | None:
        """Store the one-question rating (the survey's `overall` answer) on a resolved
        ticket of this user; None if not allowed."""
        return await self.ctx.record_survey_answer(CHANNEL, handle, number, OVERALL_RATING,
                                                   score, label)

    async def comment(self, handle: str, number: str, text: str) -> bool:
        return await self.ctx.record_survey_comment(handle, number, text)

    # ---------------------------------------------------------------- held questions

    async def hold(self, chat_id: int, kind: str, ref: str, data: dict[str, Any]) -> int:
        """Remember a question (idempotent on chat, kind, ref); returns its id."""
        return await self.records.put(kind, _key(chat_id, ref), data)

    async def held(self, pending_id: int, chat_id: int, kind: str | None = None
                   ) -> Record | None:
        """Record `pending_id` if it belongs to this chat (and is of `kind`): a button
        pressed in one chat never touches another chat's question."""
        row = await self.records.get(pending_id)
        if row is None or row.key.partition(":")[0] != str(chat_id):
            return None
        if kind is not None and row.kind != kind:
            return None
        return row

    async def held_by_ref(self, chat_id: int, kind: str, ref: str) -> Record | None:
        return await self.records.find(kind, _key(chat_id, ref))

    async def add_extra(self, pending_id: int, draft: dict[str, Any]) -> None:
        """Attach another message (an album's next photo) to a held question."""

        def change(data: dict[str, Any]) -> dict[str, Any]:
            extra = list(data.get("extra") or [])
            if draft["external_id"] not in {e["external_id"] for e in extra}:
                extra.append(draft)
            return {**data, "extra": extra}

        await self.records.update(pending_id, change)

    async def release(self, pending_id: int) -> None:
        await self.records.delete(pending_id)

    async def due(self, kind: str, before: datetime, limit: int = 100) -> list[Record]:
        return await self.records.older_than(kind, before, limit)


def _key(chat_id: int, ref: str) -> str:
    return f"{chat_id}:{ref}"
