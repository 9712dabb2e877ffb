"""Engine and session setup for SQLite (embedded default) and PostgreSQL.

SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE`: with a plain deferred BEGIN,
concurrent read-then-write transactions fail with "database is locked" no matter the
timeout, because SQLite cannot upgrade a reader to a writer while another writes.

The SQLite file holds every complaint and reporter: its folder is made 700 and the
database 600 before SQLite opens it (SQLite gives the -wal and -shm files the
database file's mode), and files an older version left readable are tightened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.files import private_file, tighten

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
SQLITE_READERS = 4  # connections of a read-only SQLite engine
# SQLite's heap in this process (page caches of every connection, schemas, prepared
# statements), beyond which it reuses cache pages instead of taking more. Each
# connection may cache 2 MB of pages, and five of them filled that slowly as the
# database grew (a 15-minute soak: 2.7 -> 10 MB, still climbing); a page not cached is
# read from the OS's cache.
SQLITE_HEAP_LIMIT = 8 * 2**20
# Prepared statements each SQLite connection keeps (Python's default: 128). Statements
# with IN-lists differ by their length, so the caches fill slowly with variants, tens
# of KB each, and five connections' worth took a soak's whole half hour to fill.
SQLITE_STATEMENTS = 32


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, echo: bool = False, read_only: bool = False, **kwargs: Any
) -> AsyncEngine:
    """An engine for `url`. On SQLite a writing engine holds ONE connection: SQLite
    has one writer at a time anyway, and queueing for the pool hands the lock over at
    once, where writers racing on `busy_timeout` sleep in steps of up to 100 ms.
    A `read_only` engine (deferred BEGIN, several connections) serves queries."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            prepare_sqlite_file(Path(parsed.database))
        if read_only:
            kwargs.setdefault("execution_options", {})[READ_ONLY] = True
            # A fixed set of readers (each a thread and three open files), opened at
            # start by `open_pool`: what the process holds does not creep up to the
            # busiest moment it has seen; a query beyond them waits for one.
            kwargs.setdefault("pool_size", SQLITE_READERS)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 60)
        else:
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 60)
        kwargs.setdefault("connect_args", {}).setdefault("cached_statements",
                                                         SQLITE_STATEMENTS)
        engine = create_async_engine(url, echo=echo, **kwargs)
        _sqlite_setup(engine)
        return engine
    # `?search_path=NAME` keeps several deployments (or test runs) in one database.
    search_path = parsed.query.get("search_path")
    if search_path:
        url = parsed.difference_update_query(["search_path"]).render_as_string(
            hide_password=False
        )
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})[
            "search_path"
        ] = str(search_path)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, echo=echo, **kwargs)


async def open_pool(engine: AsyncEngine) -> None:
    """Open every connection the engine's pool keeps, now rather than when load first
    needs them."""
    size = getattr(engine.pool, "size", lambda: 0)()
    conns = [await engine.connect() for _ in range(size)]
    for conn in conns:
        await conn.close()


def prepare_sqlite_file(db: Path) -> None:
    """Folder 700 (when we create it), database 600, side files of ours 600."""
    private_file(db)
    for suffix in SQLITE_SIDE_FILES:
        tighten(db.with_name(db.name + suffix))


def _sqlite_setup(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}")  # process-wide
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers take a plain (deferred) BEGIN: in WAL mode they never wait for writers.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "aggregator_read_only"


def session_factory(
    engine: AsyncEngine, *, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that writes (the default) or only reads.

    On SQLite a writing session takes the write lock when it begins; a read-only one
    does not (give it a `read_only` engine), so queries never queue behind ingest."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False)
