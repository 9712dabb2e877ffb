"""SQLite serves one daemon: a second `aggregator run` on the same database file is
refused at start with a clear message (several processes need PostgreSQL).

An advisory `flock` on `<database>.run.lock`, held for the daemon's lifetime; the
kernel releases it when the process dies, even by kill -9, so a crash never leaves a
stale lock behind. CLI commands (users, tokens, tickets) do not take it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class AlreadyRunning(OSError):
    pass


class RunLock:
    def __init__(self, database_url: str):
        url = make_url(database_url)
        db = url.database or ""
        self.path = Path(f"{db}.run.lock") if db and db != ":memory:" else None
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                f"another aggregator process is running on {self.path.with_suffix('')}"
                " (SQLite serves one process; use PostgreSQL to run several)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
