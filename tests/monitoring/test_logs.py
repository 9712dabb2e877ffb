"""Logs an operator can read: start-up says in a few lines what runs and where (no
Alembic chatter), each state change of a connector is one line, and a crash loop
repeats one line, not its traceback."""

from __future__ import annotations

import asyncio
import logging

from aggregator.runtime.service import Service
from storage.migrate import head_revision
from tests.core.helpers import service_settings
from tests.core.test_supervisor import Crashy  # registers test-crashy and test-steady


async def test_start_up_lines_and_state_changes(db_url, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    settings = service_settings(db_url, tmp_path, connectors={
        "broken": {"type": "test-crashy"}, "good": {"type": "test-steady"}})
    svc = Service(settings)
    svc.supervisor.base_delay, svc.supervisor.max_delay = 0.02, 0.05
    await svc.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        starts = Crashy.starts
        while Crashy.starts < starts + 4 and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await svc.stop()
    records = caplog.records
    assert not [r for r in records if r.name.startswith("alembic")]
    said = {r.getMessage(): vars(r) for r in records if r.name == "aggregator.service"}
    assert said["database ready"]["revision"] == head_revision()
    assert said["web listening"]["url"] == svc.web_url
    assert {"/api", "/healthz", "/metrics", "/monitoring", "/survey"} <= set(
        said["web listening"]["serves"])
    assert said["service started"]["connectors"] == {"broken": "test-crashy",
                                                     "good": "test-steady"}
    good = [r.getMessage() for r in records if r.getMessage().startswith("connector good:")]
    assert good == ["connector good: starting -> running", "connector good: running -> stopped"]
    broken = [r for r in records if r.getMessage().startswith("connector broken:")]
    assert broken[0].getMessage() == "connector broken: starting -> running"
    backoffs = [r for r in broken if "-> backoff" in r.getMessage()]
    assert len(backoffs) >= 3 and all(r.levelno == logging.WARNING for r in backoffs)
    assert "ConnectionError: peer went away; restart 1 in" in backoffs[0].getMessage()
    crashes = [r for r in records if "crashed" in r.getMessage()]
    assert len(crashes) == 1 and crashes[0].exc_info  # the traceback once, not per restart
    assert broken[-1].getMessage().endswith("-> stopped")
