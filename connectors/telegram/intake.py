"""From a user's message to a stored report: routing, files, held questions.

A message becomes a *draft* (plain JSON, so it can wait in the database), then a
`Report` when we know where it goes: a Telegram reply names its ticket itself; a
follow-up within the window joins the user's one recent open ticket; with several,
the draft is held and the user asked which one (an unanswered question turns into a
new ticket after `choice_timeout_minutes`). Files are fetched just before ingest and
travel on the `Report`, so they commit with it: a stored message always has its files,
and a re-delivered one is simply stored already.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot

from aggregator.domain import Attachment, Author, IngestResult, Report
from aggregator.intake.port import ConnectorContext
from aggregator.intake.records import Record
from connectors.telegram import media as files
from connectors.telegram.parse import Inbound, Media
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.store import Lookup, TelegramStore
from connectors.telegram.texts import say

log = logging.getLogger("connectors.telegram")
CHANNEL = "telegram"
ALBUM_MEMORY = 2000


class Intake:
    def __init__(self, settings: TelegramSettings, ctx: ConnectorContext, store: TelegramStore,
                 bot: Bot):
        self.settings = settings
        self.ctx = ctx
        self.store = store
        self.bot = bot
        # media_group_id -> ("report", external id) | ("held", pending id): the other
        # photos of an album follow the first one instead of each asking again.
        self._albums: OrderedDict[str, tuple[str, str]] = OrderedDict()

    # ---------------------------------------------------------------- drafts

    @staticmethod
    def draft(m: Inbound) -> dict[str, Any]:
        text = m.text.strip()
        if not text and m.media is not None:
            key = f"placeholder_{m.media.kind}"
            text = say("id", key, name=m.media.file_name or "")
        if m.location is not None:
            where = say("id", "placeholder_location", lat=m.location[0], lon=m.location[1])
            text = f"{text}\n{where}" if text else where
        meta: dict[str, Any] = {"telegram": {
            "chat_id": m.chat_id, "message_id": m.message_id, "update_id": m.update_id,
            "username": m.username, "media_group_id": m.media_group_id, "edited": m.edited,
        }}
        if m.location is not None:
            meta["location"] = {"lat": m.location[0], "lon": m.location[1]}
        media = None
        if m.media is not None:
            media = {"kind": m.media.kind, "file_id": m.media.file_id,
                     "file_size": m.media.file_size, "file_name": m.media.file_name,
                     "mime_type": m.media.mime_type, "sizes": [list(s) for s in m.media.sizes]}
            meta["media"] = {k: media[k] for k in ("kind", "file_name", "mime_type", "file_size")}
        return {
            "external_id": m.external_id, "text": text or "-", "handle": m.handle,
            "name": m.user_name, "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "reply_to": [m.reply_to] if m.reply_to else [], "meta": meta, "media": media,
        }

    def report(self, d: dict[str, Any], *, ticket_ref: str | None, ack: bool,
               attachments: Sequence[Attachment] = ()) -> Report:
        return Report(
            source=self.ctx.name, channel=CHANNEL, external_id=d["external_id"], text=d["text"],
            author=Author(handle=d["handle"], name=d["name"]),
            sent_at=datetime.fromisoformat(d["sent_at"]) if d.get("sent_at") else None,
            reply_to=tuple(d.get("reply_to") or ()), ticket_ref=ticket_ref, ack=ack,
            meta=d.get("meta") or {}, attachments=tuple(attachments),
        )

    # ---------------------------------------------------------------- routing

    def since(self, m: Inbound, *, fresh: bool = False) -> datetime | None:
        """Start of the follow-up window for `m`, or None when it cannot be a follow-up."""
        if fresh or m.reply_to or m.command or self.settings.followup_window_minutes <= 0:
            return None
        return datetime.now(UTC) - timedelta(minutes=self.settings.followup_window_minutes)

    async def take(self, m: Inbound, cursor: dict[str, Any] | None, look: Lookup, *,
                   fresh: bool = False) -> dict[str, Any] | None:
        """Store `m` or hold it. Returns the held question's details when the user must
        choose (`{"id", "candidates"}`), else None. `look` is the user's state read for
        this message (with `since()`); `fresh`: the user said it is a new complaint
        (/baru), so it does not join a recent ticket."""
        if look.report_id is not None:  # re-delivered after a crash: stored with its files
            return None
        d = self.draft(m)
        album = self._albums.get(m.media_group_id) if m.media_group_id else None
        if album is not None and album[0] == "held":
            if await self._join_held(int(album[1]), m.chat_id, d):
                return None
        if album is not None and album[0] == "report":
            d["reply_to"] = [album[1]]
            await self.submit([d], ticket_ref=None, cursor=cursor, ack_first=False)
            return None
        ticket_ref = await self._named_ticket(m) if not (fresh or d["reply_to"]) else None
        candidates = look.candidates if ticket_ref is None and not fresh else ()
        if len(candidates) == 1:
            ticket_ref = candidates[0][0]
        elif len(candidates) > 1:
            data = {"draft": d, "extra": [], "candidates": [list(c) for c in candidates]}
            pid = await self.store.hold(m.chat_id, "followup", m.external_id, data)
            self._remember_album(m.media_group_id, ("held", str(pid)))
            return {"id": pid, "candidates": list(candidates)}
        await self.submit([d], ticket_ref=ticket_ref, cursor=cursor)
        self._remember_album(m.media_group_id, ("report", m.external_id))
        return None

    async def submit(
        self, drafts: Sequence[dict[str, Any]], *, ticket_ref: str | None,
        cursor: dict[str, Any] | None, ack_first: bool = True,
    ) -> list[IngestResult]:
        """Fetch files, then ingest the reports with them (and the cursor): one commit."""
        reports = []
        for i, d in enumerate(drafts):
            fetched = [await self._fetch(_media(d["media"]))] if d.get("media") else []
            reports.append(self.report(d, ticket_ref=ticket_ref, ack=ack_first and i == 0,
                                       attachments=fetched))
        return await self.store.ingest(reports, cursor)

    # ---------------------------------------------------------------- held questions

    async def resolve(self, row: Record, choice: int | None,
                      cursor: dict[str, Any] | None) -> str | None:
        """Store a held message (and album mates) on the chosen ticket, or as a new
        one when `choice` is None. Returns the ticket number; None for a bad choice."""
        data = row.data
        candidates = data.get("candidates") or []
        ticket_ref = None
        if choice is not None:
            if not 0 <= choice < len(candidates):
                return None
            ticket_ref = candidates[choice][0]
        results = await self.submit([data["draft"], *data.get("extra", [])],
                                    ticket_ref=ticket_ref, cursor=cursor)
        await self.store.release(row.id)
        for key, value in list(self._albums.items()):
            if value == ("held", str(row.id)):
                self._albums[key] = ("report", data["draft"]["external_id"])
        return results[0].ticket_number

    async def sweep(self) -> int:
        """Unanswered "which ticket?" questions become new tickets (nothing is lost);
        stale survey-comment prompts are forgotten."""
        done = 0
        now = datetime.now(UTC)
        before = now - timedelta(minutes=self.settings.choice_timeout_minutes)
        for row in await self.store.due("followup", before):
            await self.resolve(row, None, None)
            done += 1
        for row in await self.store.due("comment", now - timedelta(days=7)):
            await self.store.release(row.id)
        return done

    async def _join_held(self, pending_id: int, chat_id: int, d: dict[str, Any]) -> bool:
        row = await self.store.held(pending_id, chat_id, "followup")
        if row is None:
            return False
        await self.store.add_extra(row.id, d)
        return True

    async def _named_ticket(self, m: Inbound) -> str | None:
        """A ticket number written in the message, if it is one of the user's own (a
        stranger naming someone else's number must not receive its replies)."""
        prefix = re.escape(self.ctx.settings.tickets.prefix)
        found = re.search(rf"\b{prefix}-\d{{4}}-\d{{6}}\b", m.text.upper())
        if found is None:
            return None
        ticket = await self.store.my_ticket(m.handle, found.group(0))
        return ticket.number if ticket is not None else None

    def _remember_album(self, group: str | None, value: tuple[str, str]) -> None:
        if not group:
            return
        self._albums[group] = value
        self._albums.move_to_end(group)
        while len(self._albums) > ALBUM_MEMORY:
            self._albums.popitem(last=False)

    async def _fetch(self, media: Media) -> Attachment:
        return await files.fetch(self.bot, media, self.settings.max_file_bytes)


def _media(d: dict[str, Any]) -> Media:
    return Media(d["kind"], d["file_id"], d.get("file_size"), d.get("file_name"),
                 d.get("mime_type"), tuple((s[0], s[1]) for s in d.get("sizes") or ()))
