"""Pure parts: Bot API payloads to our records, commands, splitting, limits, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from telegram import Bot, Update

from aggregator.config import ConfigError, parse
from connectors.telegram.parse import (
    Inbound,
    Press,
    from_update,
    parse_command,
    parse_data,
    split_text,
    survey_data,
)
from connectors.telegram.ratelimit import UserRateLimit
from tests.connectors.telegram.parse_helpers import utf16

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "api" / "telegram-updates"
BOT = Bot("123:abc")


def shared(name: str) -> dict:
    path = DATA / "res" / name
    if not path.exists():
        pytest.skip(f"shared Telegram payloads absent ({path})")
    return json.loads(path.read_text())


def update(data: dict) -> Update:
    return Update.de_json(data, BOT)


def test_real_payloads_from_the_shared_data():
    plain = from_update(update(shared("message.json")), "AduanBot")
    assert isinstance(plain, Inbound)
    assert plain.external_id == "12345678:11223" and plain.handle == "12345678"
    assert plain.text == "Hi, world!" and plain.user_name == "FirstName LastName"
    assert plain.command is None and plain.reply_to is None and not plain.unsupported

    payload = shared("message_with_photo.json")
    for size in payload["message"]["photo"]:  # the 2017 sample predates file_unique_id
        size.setdefault("file_unique_id", size["file_id"][-10:])
    photo = from_update(update(payload), "AduanBot")
    assert photo.text == "description" and photo.media.kind == "photo"
    assert photo.media.file_size == 47844  # the largest size first...
    assert [s for _, s in photo.media.sizes] == [47844, 38244, 7597, 698]  # ...then smaller

    reply = from_update(update(shared("reply_message.json")), "AduanBot")
    assert reply.reply_to == "12345678:12345"

    edited = from_update(update(shared("edited_message.json")), "AduanBot")
    assert edited.edited and edited.external_id == "12345678:12345:edit:1508825379"
    assert edited.reply_to == "12345678:12345"  # joins the original's ticket

    forwarded = from_update(update(shared("forwarded_message.json")), "AduanBot")
    assert forwarded.text == "message text" and forwarded.handle == "12345678"


def test_groups_bots_and_foreign_updates_are_not_complaints():
    base = {"message_id": 1, "date": 1767225600, "text": "halo",
            "from": {"id": 5, "is_bot": False, "first_name": "A"}}
    group = {"update_id": 1, "message": {**base, "chat": {"id": -100, "type": "group",
                                                           "title": "RT 05"}}}
    assert from_update(update(group), "AduanBot") is None
    bot = {"update_id": 2, "message": {**base, "chat": {"id": 5, "type": "private"},
                                       "from": {"id": 5, "is_bot": True, "first_name": "B"}}}
    assert from_update(update(bot), "AduanBot") is None
    sticker = {"update_id": 3, "message": {**base, "chat": {"id": 5, "type": "private"},
                                           "text": None, "sticker": {
        "file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
        "is_video": False, "type": "regular"}}}
    assert from_update(update(sticker), "AduanBot").unsupported
    press = {"update_id": 4, "callback_query": {
        "id": "q", "chat_instance": "c", "data": "ikm:ADU-2026-000001:3",
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
        "message": {**base, "chat": {"id": 5, "type": "private"}}}}
    item = from_update(update(press), "AduanBot")
    assert isinstance(item, Press) and item.handle == "5" and item.message_id == 1


def test_commands_and_callback_data():
    assert parse_command("/status", "AduanBot") == ("status", ())
    assert parse_command("/Status@aduanbot  ADU-2026-000001", "AduanBot") == (
        "status", ("ADU-2026-000001",))
    assert parse_command("/status@OtherBot", "AduanBot") == (None, ())
    assert parse_command("status", "AduanBot") == (None, ())
    assert parse_data(survey_data("ADU-2026-000001", 4)) == ("ikm", "ADU-2026-000001", "4")
    assert len(survey_data("ABCDEFGHIJKL-2026-999999", 4).encode()) <= 64
    assert parse_data("something:else") is None and parse_data("fu::1") is None


def test_split_text_respects_utf16_and_prefers_breaks():
    assert split_text("pendek") == ["pendek"]
    text = ("Paragraf satu. " * 200).strip() + "\n\n" + ("Dua 😀 " * 900)
    parts = split_text(text)
    assert all(utf16(p) <= 4096 for p in parts) and len(parts) >= 3
    assert parts[0].endswith("Paragraf satu.")  # cut at the paragraph break
    assert "".join(p.replace(" ", "").replace("\n", "") for p in parts) == text.replace(
        " ", "").replace("\n", "")
    assert all(utf16(p) <= 10 for p in split_text("x" * 95, limit=10))


def test_rate_limit_window_and_single_notice():
    now = [0.0]
    limit = UserRateLimit(3, 60, clock=lambda: now[0])
    assert [limit.check("u").allowed for _ in range(3)] == [True] * 3
    first, second = limit.check("u"), limit.check("u")
    assert not first.allowed and first.notify and first.wait == 60
    assert not second.allowed and not second.notify
    assert limit.check("other").allowed
    now[0] = 61.0
    assert limit.check("u").allowed
    assert UserRateLimit(0, 60).check("u").allowed  # 0 turns it off


def test_flood_limit_forgets_idle_chats_long_before_max_users():
    """Most chats write once: a steady stream of new chats keeps about a window's worth
    of them (it kept up to max_users, ~40 MB), and a flooding chat is still refused."""
    now = [0.0]
    limit = UserRateLimit(2, 60, clock=lambda: now[0])
    for second in range(3600):  # a new chat every second for an hour
        now[0] = float(second)
        assert limit.check(f"chat{second}").allowed
        flood = [limit.check("flood").allowed for _ in range(3)]
        assert flood.count(True) <= 2
        assert len(limit._users) <= 2 * 60 + 1024
    assert limit.check("flood").allowed is False


def test_config_errors_name_the_key():
    base = {"type": "telegram", "token": "${TG}"}
    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"bot": {**base, "mode": "webhook"}}}, base_dir=Path("."),
              env={"TG": "1:x"})
    assert any("connectors.bot" in p and "webhook_secret" in p for p in err.value.problems)
    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"bot": {**base, "webhook_secret": "has space"}}},
              base_dir=Path("."), env={"TG": "1:x"})
    assert any(p.startswith("connectors.bot.webhook_secret") for p in err.value.problems)
    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"bot": base}}, base_dir=Path("."), env={})
    assert err.value.problems == ["connectors.bot.token: environment variable TG is not set"]
    ok = parse({"connectors": {"bot": {**base, "banned_users": [123, "@Spam"]}}},
               base_dir=Path("."), env={"TG": "1:x"})
    conf = ok.connectors["bot"]
    assert conf.is_banned(123, None) and conf.is_banned(9, "spam") and not conf.is_banned(9, "x")
    assert "1:x" not in repr(conf)  # the token never shows in logs
