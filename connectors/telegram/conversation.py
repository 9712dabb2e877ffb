"""What the bot does with each update from a person.

Order for a message: banned (config) -> flood limit -> banned (staff, database) ->
command / survey comment / complaint. Only a failed read or write through the port
may raise (the database is away): the caller then leaves the update unacknowledged so
Telegram sends it again. Answers to the user are best-effort here; the durable ones
(the ticket number, staff replies, status changes) go through the outbox instead.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from telegram import Bot, ForceReply, ReplyParameters, Update

from aggregator.intake.ingest import IngestClosed
from aggregator.intake.port import ConnectorContext, TicketView
from aggregator.intake.records import Record
from connectors.telegram import api
from connectors.telegram.intake import Intake
from connectors.telegram.parse import (
    NEW_COMMANDS,
    Inbound,
    Press,
    followup_data,
    from_update,
    parse_data,
)
from connectors.telegram.ratelimit import UserRateLimit
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.store import Lookup, StoreUnavailable, TelegramStore
from connectors.telegram.texts import LANGUAGES, ikm_label, lang_of, say, state_name

STATUS_LIST_MAX = 10
# Failures that mean "could not store": the update stays with Telegram and comes again.
STORAGE_ERRORS = (StoreUnavailable, IngestClosed, OSError, TimeoutError)


class Conversation:
    def __init__(self, settings: TelegramSettings, ctx: ConnectorContext, store: TelegramStore,
                 bot: Bot):
        self.settings = settings
        self.ctx = ctx
        self.store = store
        self.bot = bot
        self.intake = Intake(settings, ctx, store, bot)
        self.limiter = UserRateLimit(settings.rate_limit.messages, settings.rate_limit.per_seconds)
        self.ignored_banned = 0
        self.skipped_updates = 0

    async def handle(self, update: Update, cursor: dict[str, Any] | None = None) -> None:
        """Process one update completely; `cursor` is stored with any report.

        Raises only when a read or write failed (the update must be read again). Any other
        error is a poison update: logged, counted and skipped, so one odd message
        cannot stop the bot for everybody."""
        try:
            item = from_update(update, self.bot.username)
            if isinstance(item, Press):
                await self._press(item, cursor)
            elif isinstance(item, Inbound):
                await self._message(item, cursor)
        except STORAGE_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - see docstring
            self.skipped_updates += 1
            self.ctx.log.exception("telegram update %s skipped after an error",
                                   update.update_id)

    # ---------------------------------------------------------------- messages

    async def _message(self, m: Inbound, cursor: dict[str, Any] | None) -> None:
        if self.settings.is_banned(m.user_id, m.username):
            self.ignored_banned += 1
            return
        verdict = self.limiter.check(m.handle)
        if not verdict.allowed:
            self.ctx.log.info("flood limit: message not ticketed",
                              extra={"user": m.handle, "message": m.external_id})
            if verdict.notify:
                profile = await self.store.profile(m.handle)
                if not profile.banned:
                    lang = lang_of(profile.language, self.settings.language)
                    await self._say(m.chat_id, say(lang, "rate_limited",
                                                   seconds=math.ceil(verdict.wait)))
            return
        complaint = not m.unsupported and (not m.command or m.command in NEW_COMMANDS)
        look = await self.store.lookup(m.handle, m.external_id if complaint else None,
                                       self.intake.since(m) if complaint else None)
        if look.profile.banned:
            self.ignored_banned += 1
            return
        lang = lang_of(look.profile.language, self.settings.language)
        if m.command:
            await self._command(m, lang, cursor, look)
        elif m.unsupported:
            await self._say(m.chat_id, say(lang, "unsupported"))
        elif m.reply_to_message_id is not None and (
            prompt := await self.store.held_by_ref(m.chat_id, "comment",
                                                   str(m.reply_to_message_id))
        ):
            await self._comment(m, prompt, lang)
        else:
            held = await self.intake.take(m, cursor, look)
            if held is not None:
                await self._ask_which(m, held, lang)

    async def _ask_which(self, m: Inbound, held: dict[str, Any], lang: str) -> None:
        rows = [[(f"{number} - {title}"[:60], followup_data(held["id"], i))]
                for i, (number, title) in enumerate(held["candidates"])]
        rows.append([(say(lang, "choose_new"), followup_data(held["id"], None))])
        await self._say(m.chat_id, say(lang, "choose"), reply_to=m.message_id,
                        reply_markup=api.keyboard(rows))

    async def _comment(self, m: Inbound, prompt: Record, lang: str) -> None:
        text = m.text.strip()
        if text and await self.store.comment(m.handle, prompt.data["ticket_number"], text):
            await self._say(m.chat_id, say(lang, "comment_thanks"), reply_to=m.message_id)
        await self.store.release(prompt.id)

    # ---------------------------------------------------------------- commands

    async def _command(self, m: Inbound, lang: str, cursor: dict[str, Any] | None,
                       look: Lookup) -> None:
        if m.command == "start":
            agency = f" {self.settings.agency_name}" if self.settings.agency_name else ""
            text = say(lang, "start", name=m.user_name.split(" ")[0] or "", agency=agency)
        elif m.command == "help":
            text = say(lang, "help")
        elif m.command in ("lang", "bahasa", "language"):
            choice = m.args[0].lower() if m.args else ""
            if choice in LANGUAGES:
                await self.store.set_language(m.handle, m.user_name, choice)
                text = say(choice, "lang_set")
            else:
                text = say(lang, "lang_usage")
        elif m.command in ("status", "cek"):
            text = await self._status(m, lang)
        elif m.command in NEW_COMMANDS:
            rest = m.text.split(maxsplit=1)[1].strip() if len(m.text.split()) > 1 else ""
            if not rest:
                text = say(lang, "new_usage")
            else:
                await self.intake.take(replace(m, text=rest, command=None), cursor, look,
                                       fresh=True)
                return
        else:
            text = say(lang, "unknown_command")
        await self._say(m.chat_id, text)

    async def _status(self, m: Inbound, lang: str) -> str:
        if m.args:
            number = m.args[0].strip().upper()
            ticket = await self.store.my_ticket(m.handle, number)
            if ticket is None:
                return say(lang, "status_not_found", number=number[:40])
            return self._one(ticket, lang)
        tickets = await self.store.my_tickets(m.handle, STATUS_LIST_MAX)
        if not tickets:
            return say(lang, "status_none")
        lines = [say(lang, "status_list")]
        for t in tickets:
            lines.append(f"\n{t.number} - {state_name(lang, t.state)}\n{_short(t.title, 80)}")
        if len(tickets) >= STATUS_LIST_MAX:
            lines.append("\n" + say(lang, "status_more", shown=len(tickets)))
        return "\n".join(lines)

    @staticmethod
    def _one(t: TicketView, lang: str) -> str:
        text = say(lang, "status_one", number=t.number, state=state_name(lang, t.state),
                   created=t.created_at.strftime("%d-%m-%Y"), title=_short(t.title, 200))
        # TicketView does not carry the rating yet: the line comes back once it does.
        score = getattr(t, "satisfaction", None)
        if score:
            text += "\n" + say(lang, "status_rating", score=score, label=ikm_label(lang, score))
        return text

    # ---------------------------------------------------------------- button presses

    async def _press(self, p: Press, cursor: dict[str, Any] | None) -> None:
        parsed = parse_data(p.data)
        if parsed is None or self.settings.is_banned(p.user_id, p.username):
            await api.call(lambda: self.bot.answer_callback_query(p.query_id))
            return
        profile = await self.store.profile(p.handle)
        if profile.banned:
            await api.call(lambda: self.bot.answer_callback_query(p.query_id))
            return
        lang = lang_of(profile.language, self.settings.language)
        kind, first, second = parsed
        if kind == "fu":
            await self._choose(p, first, second, lang, cursor)
        else:
            await self._rate(p, first, second, lang)

    async def _choose(self, p: Press, pending: str, choice: str, lang: str,
                      cursor: dict[str, Any] | None) -> None:
        row = (await self.store.held(int(pending), p.chat_id, "followup")
               if pending.isdigit() else None)
        number = None
        if row is not None and (choice == "n" or choice.isdigit()):
            number = await self.intake.resolve(row, None if choice == "n" else int(choice),
                                               cursor)
        answer = say(lang, "choice_done", number=number) if number else say(lang, "choice_gone")
        await api.call(lambda: self.bot.answer_callback_query(p.query_id, text=answer))
        await self._drop_keyboard(p)

    async def _rate(self, p: Press, number: str, score_text: str, lang: str) -> None:
        score = int(score_text) if score_text.isdigit() else 0
        ticket = None
        if 1 <= score <= 4:
            ticket = await self.store.rate(p.handle, number, score, ikm_label("id", score))
        if ticket is None:
            await api.call(lambda: self.bot.answer_callback_query(
                p.query_id, text=say(lang, "survey_not_open"), show_alert=True))
            return
        label = ikm_label(lang, score)
        await api.call(lambda: self.bot.answer_callback_query(
            p.query_id, text=say(lang, "survey_thanks", label=label)))
        await self._drop_keyboard(p)
        prompt = await self._say(
            p.chat_id, say(lang, "survey_thanks", label=label) + "\n\n"
            + say(lang, "survey_comment", number=ticket.number),
            reply_markup=ForceReply(selective=True),
        )
        if prompt is not None:
            await self.store.hold(p.chat_id, "comment", str(prompt.message_id),
                                  {"ticket_number": ticket.number})

    # ---------------------------------------------------------------- sending

    async def _say(self, chat_id: int, text: str, *, reply_to: int | None = None,
                   reply_markup: Any = None) -> Any:
        params = (ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                  if reply_to is not None else None)
        return await api.call(lambda: self.bot.send_message(
            chat_id=chat_id, text=text, reply_parameters=params, reply_markup=reply_markup))

    async def _drop_keyboard(self, p: Press) -> None:
        if p.message_id is not None:
            await api.call(lambda: self.bot.edit_message_reply_markup(
                chat_id=p.chat_id, message_id=p.message_id, reply_markup=None))


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
