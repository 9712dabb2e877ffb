"""The bot's state through the port: held questions per chat, and telling a database
failure (read the update again) from a poison update (skip it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from telegram import Update

from connectors.telegram.store import StoreUnavailable
from storage.db import create_engine, session_factory
from storage.models import ConnectorRecord
from tests.connectors.telegram.harness import count, tg_settings
from tests.core.helpers import running

GITA, HADI = 7001, 7002


async def test_held_questions_belong_to_their_chat(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        store = svc.connectors["tg"].store
        # A prompt as migration 0002 carried it over from telegram_pending.
        async with svc.sessions() as s, s.begin():
            s.add(ConnectorRecord(connector="tg", kind="comment", key=f"{GITA}:77",
                                  data={"ticket_number": "ADU-2026-000001"},
                                  created_at=datetime.now(UTC)))
        prompt = await store.held_by_ref(GITA, "comment", "77")
        assert prompt is not None and prompt.data == {"ticket_number": "ADU-2026-000001"}
        assert await store.held_by_ref(HADI, "comment", "77") is None

        draft = {"external_id": f"{GITA}:5", "text": "x"}
        pid = await store.hold(GITA, "followup", f"{GITA}:5", {"draft": draft, "extra": []})
        assert await store.hold(GITA, "followup", f"{GITA}:5", {"other": 1}) == pid
        assert (await store.held(pid, GITA)).data["draft"] == draft
        assert await store.held(pid, HADI) is None  # another chat's button
        assert await store.held(pid, GITA, "comment") is None
        assert await store.held(prompt.id, GITA, "followup") is None

        mate = {"external_id": f"{GITA}:6", "text": "[foto]"}
        await store.add_extra(pid, mate)
        await store.add_extra(pid, mate)  # a re-delivered album photo
        assert (await store.held(pid, GITA)).data["extra"] == [mate]

        soon = datetime.now(UTC) + timedelta(seconds=1)
        assert [r.id for r in await store.due("followup", soon)] == [pid]
        assert await store.due("followup", soon - timedelta(hours=1)) == []
        await store.release(pid)
        await store.release(prompt.id)
        assert await count(svc, ConnectorRecord, ConnectorRecord.connector == "tg") == 0


async def test_a_failed_read_keeps_the_update(db_url, tmp_path, fake):
    """The database goes away (here: the port's reads point at a file that cannot be
    opened): the update stays with Telegram to be read again, it is not skipped."""
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        await svc.connectors["tg"]._ready()  # the bot knows its username
        conversation = svc.connectors["tg"].conversation
        update = Update.de_json({"update_id": 9, "message": {
            "message_id": 3, "date": 1767225600, "text": "Jalan rusak di RT 02",
            "chat": {"id": GITA, "type": "private", "first_name": "Gita"},
            "from": {"id": GITA, "is_bot": False, "first_name": "Gita"}}}, conversation.bot)
        ctx = conversation.store.ctx
        gone = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'x.db'}")
        working, ctx.read_sessions = ctx.read_sessions, session_factory(gone)
        try:
            with pytest.raises(StoreUnavailable):
                await conversation.handle(update)
            assert conversation.skipped_updates == 0
        finally:
            ctx.read_sessions = working
            await gone.dispose()
