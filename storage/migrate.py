"""Apply Alembic migrations from inside the running event loop.

Alembic is synchronous; we hand it the sync face of one async connection
(`run_sync`) instead of letting it build its own engine, so the same code path works
for the CLI, the daemon and the tests, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("storage.migrate")
MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent `migrate` runs of several replicas.
_PG_LOCK_KEY = 0x41445531


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Alembic's INFO lines (a dozen on a fresh database: its context, every step)
    are kept out of the service's log; `upgrade` says in one line what changed."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        alembic_log.setLevel(level)


def _revision(sync_conn: Any) -> str | None:
    with _quiet():
        return MigrationContext.configure(sync_conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Bring the schema to `revision`; returns the revision it is at."""
    cfg = alembic_config()
    done: list[str | None] = []

    def _run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        before = _revision(sync_conn)
        with _quiet():
            command.upgrade(cfg, revision)
        done[:] = [before, _revision(sync_conn)]

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        await conn.run_sync(_run)
    before, after = done
    if after != before:
        log.info("database migrated", extra={"url": safe_url(engine),
                                             "from": before or "empty", "to": after})
    return after


def safe_url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=True)
