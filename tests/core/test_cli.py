"""The command line as an operator uses it."""

from __future__ import annotations

import json

import yaml

from aggregator.domain import Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from tests.core.helpers import cli_async


async def test_users_tokens_and_tickets(db_url, tmp_path, sessions, settings):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url}}))
    assert (await cli_async(config, "migrate")).returncode == 0
    res = await cli_async(config, "users", "add", "ani", "--role", "supervisor",
                          "--password-stdin", stdin="rahasia-sekali\n")
    assert res.returncode == 0, res.stderr
    assert (await cli_async(config, "users", "add", "ani")).returncode == 1  # already exists
    token = await cli_async(config, "tokens", "create", "ani")
    assert token.returncode == 0
    assert token.stdout.strip().startswith("adu_") and len(token.stdout.splitlines()) == 1
    assert (await cli_async(config, "tokens", "create", "nobody")).returncode == 1

    ing = Ingestor(sessions, Pipeline(settings))
    (res1,) = await ing.submit([Report(source="lapor", channel="sms-1708", external_id="1",
                                       text="Bantuan sosial tidak sampai ke warga RT 03",
                                       author=Author(handle="0812"))])
    await ing.close()
    listed = await cli_async(config, "tickets", "list", "--json")
    assert listed.returncode == 0
    assert [t["number"] for t in json.loads(listed.stdout)] == [res1.ticket_number]
    shown = await cli_async(config, "tickets", "show", res1.ticket_number.lower())
    assert shown.returncode == 0
    body = json.loads(shown.stdout)
    assert body["reports"][0]["text"].startswith("Bantuan sosial")
    assert body["events"][0]["type"] == "created"
    assert (await cli_async(config, "tickets", "show", "ADU-1999-000009")).returncode == 1


async def test_status_without_a_running_daemon(db_url, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url}}))
    res = await cli_async(config, "status")
    assert res.returncode == 0, res.stderr
    assert "held: nothing" in res.stdout
    state = json.loads((await cli_async(config, "status", "--json")).stdout)
    assert state["leases"] == {} and state["overdue_outbox"] == {}
