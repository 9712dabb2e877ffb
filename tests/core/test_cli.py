"""The command line as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from aggregator.domain import Author, Report
from aggregator.ingest import Ingestor
from aggregator.pipeline import Pipeline


def cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", "--config", str(config), *args],
                          capture_output=True, text=True, input=stdin, timeout=60)


async def test_users_tokens_and_tickets(db_url, tmp_path, sessions, settings):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url}}))
    assert cli(config, "migrate").returncode == 0
    res = cli(config, "users", "add", "ani", "--role", "supervisor", "--password-stdin",
              stdin="rahasia-sekali\n")
    assert res.returncode == 0, res.stderr
    assert cli(config, "users", "add", "ani").returncode == 1  # already exists
    token = cli(config, "tokens", "create", "ani")
    assert token.returncode == 0
    assert token.stdout.strip().startswith("adu_") and len(token.stdout.splitlines()) == 1
    assert cli(config, "tokens", "create", "nobody").returncode == 1

    ing = Ingestor(sessions, Pipeline(settings))
    (res1,) = await ing.submit([Report(source="lapor", channel="sms-1708", external_id="1",
                                       text="Bantuan sosial tidak sampai ke warga RT 03",
                                       author=Author(handle="0812"))])
    await ing.close()
    listed = cli(config, "tickets", "list", "--json")
    assert listed.returncode == 0
    assert [t["number"] for t in json.loads(listed.stdout)] == [res1.ticket_number]
    shown = cli(config, "tickets", "show", res1.ticket_number.lower())
    assert shown.returncode == 0
    body = json.loads(shown.stdout)
    assert body["reports"][0]["text"].startswith("Bantuan sosial")
    assert body["events"][0]["type"] == "created"
    assert cli(config, "tickets", "show", "ADU-1999-000009").returncode == 1
