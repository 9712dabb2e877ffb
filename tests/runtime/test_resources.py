"""What the daemon holds does not creep up with the busiest moment it has seen: a burst
of staff queries leaves it with the database handles it had when it started."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.core.helpers import Api, running, service_settings, token_for


def handles_on(db_url: str) -> int:
    """Open files of this process on the database file (one per SQLite connection)."""
    path = str(Path(make_url(db_url).database or "").resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:
            pass
    return count


async def test_a_burst_of_queries_leaves_no_more_database_connections(tmp_path):
    # SQLite's reader pool, whichever database the rest of the run uses.
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    async with running(service_settings(db_url, tmp_path)) as service:
        api = Api(service.web_url, await token_for(service, "siti", "agent"))
        assert (await api.call("GET", "/api/tickets"))[0] == 200
        at_start = handles_on(db_url)
        answers = await asyncio.gather(*(api.call("GET", "/api/tickets") for _ in range(40)))
        assert [status for status, _ in answers] == [200] * 40
        assert handles_on(db_url) == at_start
