"""Pure translation between Telegram's objects and ours: no I/O, no database.

An `Update` becomes an `Inbound` (a private-chat message from a person), a `Press`
(an inline-keyboard button press) or nothing (groups, channels, bots, other update
kinds are not complaints). Ids are built here so they stay the same across restarts:
a message is `"{chat_id}:{message_id}"`, the same namespace as the bot's own messages,
so a Telegram reply to any earlier message (theirs or ours) names it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import Message, Update

MESSAGE_LIMIT = 4096  # Telegram's limit, counted in UTF-16 code units
CALLBACK_LIMIT = 64  # bytes of callback_data
NEW_COMMANDS = ("baru", "new")  # "/baru TEXT": a complaint that starts a new ticket


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # photo | document | voice | audio | video
    file_id: str
    file_size: int | None
    file_name: str | None
    mime_type: str | None
    # Photos come in several sizes: (file_id, size) largest first, to pick one under a cap.
    sizes: tuple[tuple[str, int | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Inbound:
    update_id: int
    chat_id: int
    user_id: int
    user_name: str
    username: str | None
    message_id: int
    external_id: str
    text: str  # the text or the caption, may be empty
    command: str | None  # "status" for "/status@OurBot 12", lower case
    args: tuple[str, ...]
    reply_to: str | None  # external id of the message this one answers
    reply_to_message_id: int | None
    media: Media | None
    location: tuple[float, float] | None
    media_group_id: str | None
    sent_at: datetime | None
    edited: bool
    unsupported: bool  # a sticker, a poll...: nothing we can ticket

    @property
    def handle(self) -> str:
        return str(self.user_id)


@dataclass(frozen=True, slots=True)
class Press:
    update_id: int
    query_id: str
    chat_id: int
    user_id: int
    username: str | None
    message_id: int | None  # the bot message that carried the keyboard
    data: str

    @property
    def handle(self) -> str:
        return str(self.user_id)


def message_id(chat_id: int | str, msg_id: int | str) -> str:
    return f"{chat_id}:{msg_id}"


def from_update(update: Update, bot_username: str | None) -> Inbound | Press | None:
    if update.callback_query is not None:
        q = update.callback_query
        msg = q.message
        if q.from_user is None or q.data is None or msg is None or msg.chat.type != "private":
            return None
        return Press(
            update_id=update.update_id, query_id=q.id, chat_id=msg.chat.id,
            user_id=q.from_user.id, username=q.from_user.username,
            message_id=msg.message_id, data=q.data,
        )
    edited = update.message is None and update.edited_message is not None
    msg = update.message or update.edited_message
    if msg is None or msg.chat.type != "private" or msg.from_user is None:
        return None
    if msg.from_user.is_bot:
        return None
    return _inbound(update.update_id, msg, bot_username, edited)


def _inbound(update_id: int, msg: Message, bot_username: str | None, edited: bool) -> Inbound:
    user = msg.from_user
    assert user is not None
    text = msg.text or msg.caption or ""
    command, args = parse_command(msg.text or "", bot_username)
    media = _media(msg)
    location = (msg.location.latitude, msg.location.longitude) if msg.location else None
    ext = message_id(msg.chat.id, msg.message_id)
    reply_to_id = msg.reply_to_message.message_id if msg.reply_to_message else None
    reply_to = message_id(msg.chat.id, reply_to_id) if reply_to_id is not None else None
    if edited:
        # An edit is a new report on the same ticket: it answers the original message.
        stamp = int(msg.edit_date.timestamp()) if msg.edit_date else update_id
        ext, reply_to, reply_to_id = f"{ext}:edit:{stamp}", ext, msg.message_id
        if command in NEW_COMMANDS:  # the edited text of "/baru ...": keep the complaint
            text = text.split(maxsplit=1)[1] if len(text.split()) > 1 else ""
    unsupported = not (text.strip() or media or location)
    return Inbound(
        update_id=update_id, chat_id=msg.chat.id, user_id=user.id,
        user_name=user.full_name, username=user.username, message_id=msg.message_id,
        external_id=ext, text=text, command=None if edited else command, args=args,
        reply_to=reply_to, reply_to_message_id=reply_to_id, media=media, location=location,
        media_group_id=msg.media_group_id, sent_at=msg.date, edited=edited,
        unsupported=unsupported,
    )


def parse_command(text: str, bot_username: str | None) -> tuple[str | None, tuple[str, ...]]:
    """`/Status@OurBot  adu-1` -> ("status", ("adu-1",)); other bots' commands -> None."""
    if not text.startswith("/"):
        return None, ()
    head, *args = text.split()
    name, _, target = head[1:].partition("@")
    if not name or (target and bot_username and target.lower() != bot_username.lower()):
        return None, ()
    return name.lower(), tuple(args)


def _media(msg: Message) -> Media | None:
    if msg.photo:
        ordered = sorted(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0),
                         reverse=True)
        best = ordered[0]
        return Media("photo", best.file_id, best.file_size, None, "image/jpeg",
                     tuple((p.file_id, p.file_size) for p in ordered))
    for kind in ("document", "voice", "audio", "video"):
        obj = getattr(msg, kind)
        if obj is not None:
            return Media(kind, obj.file_id, obj.file_size, getattr(obj, "file_name", None),
                         getattr(obj, "mime_type", None))
    return None


# ------------------------------------------------------------------ callback data


def followup_data(pending_id: int, choice: int | None) -> str:
    return f"fu:{pending_id}:{'n' if choice is None else choice}"


def survey_data(ticket_number: str, score: int) -> str:
    return f"ikm:{ticket_number}:{score}"


def parse_data(data: str) -> tuple[str, str, str] | None:
    """("fu", pending id, choice) or ("ikm", ticket number, score); None if foreign."""
    parts = data.split(":")
    if len(parts) == 3 and parts[0] in ("fu", "ikm") and all(parts):
        return parts[0], parts[1], parts[2]
    return None


# ------------------------------------------------------------------ outgoing text


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split into pieces of at most `limit` UTF-16 units, at a paragraph, line or word
    break when one is in the second half of the piece, else hard."""
    text = text.strip() or "-"
    parts: list[str] = []
    while utf16_len(text) > limit:
        cut = _fit(text, limit)
        window = text[:cut]
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at >= cut // 2:
                cut = at
                break
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def _fit(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)
