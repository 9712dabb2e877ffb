"""Ticket numbers: ADU-2026-000123, counting from 1 again each year.

SQLite has one writer at a time: a counter row per prefix and year, bumped by an upsert
in the ingest transaction, whose numbers reserved and not used are given back, so the
numbers have no gaps.

On PostgreSQL replicas ingest at once, and that row was a hot row: its lock is held
until the transaction commits, so every batch that opened a ticket, on any process,
waited for the one before it (row-lock waits in `bench/replicas_bench.py`). There a
sequence per prefix and year hands out numbers and never waits; the price is a gap
where a transaction that took a number rolls back (the report is then stored again,
under the next number). The sequence starts after the counter row's value, so a
database numbered before it existed goes on where it was.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.models import TicketCounter
from storage.repo import dialect

# Sequences known to exist, per engine (a test's engine may point at a fresh schema).
_created: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()


def gapless(session: AsyncSession) -> bool:
    """Whether numbers come from the counter row (reserve many, give back the rest)
    rather than a sequence (take exactly what is used)."""
    return dialect(session) != "postgresql"


async def allocate(session: AsyncSession, prefix: str, year: int, count: int) -> list[str]:
    """`count` new numbers for tickets of `prefix` opened in `year`, in order."""
    if gapless(session):
        values = await _from_counter(session, prefix, year, count)
    else:
        values = await _from_sequence(session, prefix, year, count)
    return [f"{prefix}-{year}-{n:06d}" for n in values]


async def give_back(session: AsyncSession, prefix: str, year: int, last_used: int) -> None:
    """Return the counter's numbers after `last_used`, reserved in this transaction
    (which still holds the counter row) and not used. A sequence keeps its gaps."""
    if gapless(session):
        await session.execute(
            update(TicketCounter)
            .where(TicketCounter.prefix == prefix, TicketCounter.year == year)
            .values(value=last_used))


async def _from_counter(session: AsyncSession, prefix: str, year: int, count: int
                        ) -> list[int]:
    stmt = sqlite.insert(TicketCounter).values(prefix=prefix, year=year, value=count)
    upsert = stmt.on_conflict_do_update(
        index_elements=["prefix", "year"],
        set_={"value": TicketCounter.value + stmt.excluded.value},
    ).returning(TicketCounter.value)
    last = (await session.execute(upsert)).scalar_one()
    return list(range(last - count + 1, last + 1))


def sequence_name(prefix: str, year: int) -> str:
    return f"ticket_numbers_{prefix.lower()}_{int(year)}"  # prefix: [A-Z][A-Z0-9]+


async def _from_sequence(session: AsyncSession, prefix: str, year: int, count: int
                         ) -> list[int]:
    name = sequence_name(prefix, year)
    created = _created.setdefault(session.get_bind(), set())
    if name not in created:
        await _create_sequence(session, name, prefix, year)
        created.add(name)
    rows = await session.execute(
        text(f"SELECT nextval('{name}') FROM generate_series(1, :n)"), {"n": count})
    return [int(n) for (n,) in rows]


async def _create_sequence(session: AsyncSession, name: str, prefix: str, year: int) -> None:
    """Create the year's sequence unless it exists, after the counter row's value, in
    a transaction of its own: created inside the ingest transaction it would be
    invisible to other processes until that commits. Two processes creating it at
    once make one of them fail (IF NOT EXISTS is not proof against a race), which
    leaves the sequence there all the same."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("ticket numbers need a session bound to an engine")
    try:
        async with engine.begin() as conn:
            counted = (await conn.execute(
                select(TicketCounter.value)
                .where(TicketCounter.prefix == prefix, TicketCounter.year == year))).scalar()
            await conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name} "
                                    f"START WITH {int(counted or 0) + 1}"))
    except DBAPIError as exc:
        if "already exists" not in str(exc) and "duplicate key" not in str(exc):
            raise
