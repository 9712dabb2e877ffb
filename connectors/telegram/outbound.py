"""Outbox messages as bot messages: acknowledgements, staff replies, status changes,
and notifications to a staff group chat.

The recipient's chat is their user id (the bot only talks in private chats). The id
Telegram gives a sent message is returned as `"{chat}:{message}"`, the namespace of
inbound reports, so a user's Telegram reply to it threads into the ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telegram import Bot, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter

from aggregator.messages import (
    Ack,
    OutboundMessage,
    Reply,
    SendResult,
    StaffNotice,
    StatusChange,
)
from connectors.telegram import api
from connectors.telegram.parse import message_id, split_text, survey_data
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.store import TelegramStore
from connectors.telegram.texts import ikm_label, lang_of, say, state_name

# State changes worth a message: everything but bookkeeping moves.
QUIET = {("waiting", "in_progress")}
# Match reasons meaning "someone else reported this too", not "your follow-up".
JOINED = ("near_duplicate",)
# A 429 between the parts of a split message is waited out here up to this long.
MID_MESSAGE_WAIT = 20.0


class Outbound:
    def __init__(self, settings: TelegramSettings, store: TelegramStore, bot: Bot):
        self.settings = settings
        self.store = store
        self.bot = bot

    async def send(self, message: OutboundMessage) -> SendResult:
        if isinstance(message.body, StaffNotice):  # to a staff group chat, as written
            chat = message.body.target
            if not chat.lstrip("-").isdigit():
                return SendResult(skipped=True)
            return await self._deliver(int(chat), message.body.text, None, None)
        handle = message.reporter_handle or (message.recipient.handle
                                             if message.recipient else None)
        if not handle or not handle.lstrip("-").isdigit():
            return SendResult(skipped=True)
        lang = lang_of(await self.store.language(handle), self.settings.language)
        body = message.body
        number = message.ticket_number or "-"
        reply_to = None
        markup = None
        if isinstance(body, Ack):
            key = ("ack_new" if body.new_ticket
                   else "ack_joined" if body.reason in JOINED else "ack_added")
            text = say(lang, key, number=number)
            reply_to = _own_message(body.report_external_id, handle)
        elif isinstance(body, Reply):
            text = say(lang, "reply", number=number, text=body.text,
                       staff=body.staff or "Petugas")
            reply_to = _latest_own(body.report_external_ids, handle)
        elif isinstance(body, StatusChange):
            before, after = body.before, body.after
            if not after or after == "new" or (before, after) in QUIET:
                return SendResult(skipped=True)
            text = say(lang, "changed", number=number, state=state_name(lang, after))
            if after == "waiting":
                text += "\n" + say(lang, "changed_waiting")
            elif after == "resolved":
                text += "\n" + say(lang, "changed_resolved")
                if self.settings.survey:
                    text += "\n\n" + say(lang, "survey_ask")
                    markup = api.keyboard([
                        [(f"{s} {ikm_label(lang, s)}", survey_data(number, s)) for s in (1, 2)],
                        [(f"{s} {ikm_label(lang, s)}", survey_data(number, s)) for s in (3, 4)],
                    ])
                    if message.survey_url:
                        text += "\n" + say(lang, "survey_form", url=message.survey_url)
            elif after == "in_progress" and before in ("resolved", "closed"):
                text += "\n" + say(lang, "changed_reopened")
        else:
            return SendResult(skipped=True)
        return await self._deliver(int(handle), text, reply_to, markup)

    async def _deliver(self, chat_id: int, text: str, reply_to: int | None,
                       markup: object) -> SendResult:
        parts = split_text(text)
        last: Message | None = None
        i = 0
        while i < len(parts):
            params = (ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                      if reply_to is not None and i == 0 else None)
            try:
                last = await self.bot.send_message(
                    chat_id=chat_id, text=parts[i], reply_parameters=params,
                    reply_markup=markup if i == len(parts) - 1 else None,
                )
            except RetryAfter as exc:
                wait = api.retry_seconds(exc)
                if i == 0 or wait > MID_MESSAGE_WAIT:
                    # Nothing sent yet (or too long to hold on): the outbox waits.
                    return SendResult(retry_after=wait + 0.5)
                await asyncio.sleep(wait)  # finish a split message rather than resend it
                continue
            except Forbidden:
                # The user blocked the bot or deleted their account: retrying cannot help.
                api.log.info("telegram user %s cannot be reached (blocked the bot)", chat_id)
                return SendResult(skipped=True)
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    return SendResult(skipped=True)
                raise
            i += 1
        assert last is not None
        return SendResult(external_id=message_id(chat_id, last.message_id))


def _latest_own(external_ids: Sequence[str], handle: str) -> int | None:
    """The user's newest message on the ticket, so the answer shows under it."""
    for ext in external_ids:
        found = _own_message(ext, handle)
        if found is not None:
            return found
    return None


def _own_message(external_id: str, handle: str) -> int | None:
    """The message id to answer, when the report came from this user's chat."""
    chat, _, rest = external_id.partition(":")
    msg = rest.split(":", 1)[0]
    return int(msg) if chat == handle and msg.isdigit() else None
