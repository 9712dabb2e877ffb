"""SQLite calls made on the event loop's own thread while a writer holds the lock.

aiosqlite runs every call (cursor, execute, fetchall, close...) on its own thread and
wakes the event loop with the result: four thread hand-offs and four event-loop passes
for one statement. Measured on the ingest writer, that was ~0.3-0.5 ms of CPU per
statement against a few microseconds of SQLite work, and every pass also waits behind
whatever else the loop has ready (HTTP requests being parsed).

Once a transaction that asked for it (`INLINE` execution option, see `storage.db`)
holds SQLite's write lock (`BEGIN IMMEDIATE` done), nothing it runs can wait for a
lock: other writers are shut out, and in WAL mode readers never block a writer. So its
calls are run directly, without the hand-offs. What may wait, or works long, stays on
the thread, where SQLite works with the GIL released while the loop goes on: `BEGIN
IMMEDIATE` (another process may hold the lock, up to `busy_timeout`), `COMMIT` and
`ROLLBACK` (a commit may run a WAL checkpoint, with its fsync), multi-row writes
(`executemany`: a batch's reports feed the full-text index, its near-duplicate keys
are a thousand rows), and every call of transactions that did not ask (jobs with long
queries keep the loop free).

The connection is never used from two threads at once: SQLAlchemy awaits each call
before the next, so when a call runs here the aiosqlite thread has nothing queued.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs calls on the caller's thread while `inline`."""

    inline = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline and getattr(fn, "__name__", None) not in THREADED:
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)


# Calls that go to the thread even inline: bulk writes, where SQLite works long enough
# that the event loop should run meanwhile.
THREADED = frozenset({"executemany", "executescript"})


# aiosqlite funnels every call through this one private method; if a version drops
# it, connections are plain aiosqlite ones (correct, only slower).
SUPPORTED = callable(getattr(aiosqlite.Connection, "_execute", None))


def creator(args: list[Any], kwargs: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    """An `async_creator` for `create_async_engine`: what `aiosqlite.connect` does, with
    our connection class (`args`, `kwargs`: the dialect's `create_connect_args`)."""

    async def connect() -> aiosqlite.Connection:
        conn = InlineConnection(partial(sqlite3.connect, *args, **kwargs), 64)
        # As SQLAlchemy does for aiosqlite: the worker thread must not keep a process
        # alive that forgot to dispose of its engine (before aiosqlite 0.22 the
        # connection was the thread).
        thread: Any = getattr(conn, "_thread", conn)
        thread.daemon = True
        return await conn

    return connect


def set_inline(driver_connection: Any, on: bool) -> None:
    """Turn inline calls on or off (a no-op on any other kind of connection)."""
    if isinstance(driver_connection, InlineConnection):
        driver_connection.inline = on
