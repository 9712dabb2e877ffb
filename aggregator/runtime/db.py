"""One-off database work for CLI commands: an engine, the schema brought up to date if
the database is new, one transaction, then dispose."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from storage.db import create_engine, session_factory
from storage.migrate import current_revision, upgrade

T = TypeVar("T")


async def with_session(settings: Settings, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings.database.url)
    try:
        if await current_revision(engine) is None:
            await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            return await fn(session)
    finally:
        await engine.dispose()
