"""Upgrading a database of the first release keeps its data: held Telegram questions
move to the connector records, queued messages get their recipient key."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import upgrade
from tests.conftest import PG_URL, _pg_exec, pg_url_with_schema

NOW = "2026-11-01 08:00:00"


async def test_upgrade_from_0001_keeps_held_questions_and_queued_messages(tmp_path):
    schema = None
    if PG_URL:
        schema = f"m_{uuid.uuid4().hex[:8]}"
        await _pg_exec(f'CREATE SCHEMA "{schema}"')
        url = pg_url_with_schema(PG_URL, schema)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine, "0001")
        async with engine.begin() as c:
            await c.execute(text(
                "INSERT INTO tickets (id, number, title, state, priority, kind, confidential,"
                " escalation_level, virality_score, report_count, sla_due_at, created_at,"
                f" updated_at) VALUES (1, 'ADU-2026-000001', 't', 'new', 1, 'complaint',"
                f" false, 0, 0, 1, NULL, '{NOW}', '{NOW}')"))
            await c.execute(text(
                "INSERT INTO reporters (id, source, handle, banned, created_at) VALUES"
                f" (7, 'tg', '42', false, '{NOW}')"))
            await c.execute(text(
                "INSERT INTO outbox (id, ticket_id, reporter_id, source, kind, payload, state,"
                " attempts, next_attempt_at, created_at) VALUES"
                f" (1, 1, 7, 'tg', 'reply', '{{}}', 'pending', 0, '{NOW}', '{NOW}'),"
                f" (2, 1, NULL, 'lapor', 'status', '{{}}', 'pending', 0, '{NOW}', '{NOW}')"))
            await c.execute(text(
                "INSERT INTO telegram_pending (source, chat_id, kind, ref, data, created_at)"
                f" VALUES ('tg', '42', 'followup', 'tg:42:9', '{{\"text\": \"halo\"}}',"
                f" '{NOW}')"))
        await upgrade(engine)
        async with engine.connect() as c:
            records = (await c.execute(text(
                "SELECT connector, kind, key, data FROM connector_records"))).all()
            recipients = (await c.execute(text(
                "SELECT id, recipient FROM outbox ORDER BY id"))).all()
            due = (await c.execute(text("SELECT sla_due_at FROM tickets"))).scalar_one()
        assert [(r[0], r[1], r[2]) for r in records] == [("tg", "followup", "42:tg:42:9")]
        data = records[0][3]
        assert (data if isinstance(data, dict) else __import__("json").loads(data)) == {
            "text": "halo"}
        assert [tuple(r) for r in recipients] == [(1, "r:7"), (2, "t:1")]
        assert due is not None
    finally:
        await engine.dispose()
        if schema:
            await _pg_exec(f'DROP SCHEMA "{schema}" CASCADE')
