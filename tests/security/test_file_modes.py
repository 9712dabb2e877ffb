"""The SQLite database holds every complaint and reporter: only the service's user
may read it, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.domain import Author, Report
from storage.models import Report as ReportRow
from tests.core.helpers import running, service_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def _use(url: str, tmp_path: Path) -> None:
    async with running(service_settings(url, tmp_path)) as svc:
        await svc.ingestor.submit([Report(source="lapor", channel="sms", external_id="1",
                                          text="Air PDAM keruh sejak kemarin",
                                          author=Author(handle="0812", name="Sari"))])
        async with svc.read_sessions() as s:
            assert len((await s.execute(select(ReportRow))).all()) == 1
        folder = Path(url.removeprefix("sqlite+aiosqlite:///")).parent
        files = sorted(p.name for p in folder.iterdir())
        assert files == ["aggregator.db", "aggregator.db-shm", "aggregator.db-wal",
                         "aggregator.db.run.lock"]
        for name in files:
            assert mode(folder / name) == 0o600, name


async def test_a_new_data_folder_and_database_are_private(tmp_path, umask_022):
    folder = tmp_path / "data"
    await _use(f"sqlite+aiosqlite:///{folder / 'aggregator.db'}", tmp_path)
    assert mode(folder) == 0o700


async def test_files_an_older_version_left_readable_are_tightened(tmp_path, umask_022):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    url = f"sqlite+aiosqlite:///{folder / 'aggregator.db'}"
    await _use(url, tmp_path)
    for name in ("aggregator.db", "aggregator.db-wal", "aggregator.db-shm"):
        (folder / name).touch()
        os.chmod(folder / name, 0o644)
    await _use(url, tmp_path)
    assert mode(folder) == 0o755  # a folder we did not make is left alone
