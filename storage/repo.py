"""Small repository functions shared by the pipeline, the API and the connectors.

They take an open `AsyncSession` and never commit: the caller owns the transaction,
which is what lets a report, its ticket change and its outbox row commit together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConnectorState, Reporter, Ticket
from storage.types import UTCDateTime, utcnow


def chunks(items: Sequence[Any], size: int = 400) -> list[list[Any]]:
    """Split an IN-list: databases cap bound parameters per statement."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def dialect(session: AsyncSession) -> str:
    """The database's dialect name (`sqlite`, `postgresql`)."""
    return session.get_bind().dialect.name


def insert_ignore(session: AsyncSession, model: Any, index_elements: Sequence[str]) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for whichever database we are on."""
    stmt = (postgresql if dialect(session) == "postgresql" else sqlite).insert(model)
    return stmt.on_conflict_do_nothing(index_elements=list(index_elements))


_UNSET = object()


def insert_rows(conn: Connection, model: Any, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """A plain multi-row INSERT sent straight to the driver (one `executemany`).

    For the large, simple inserts of a batch (thousands of candidate-key rows): the
    ORM and Core spend more time building each row's parameters than the database
    spends storing it. Values go through each column's bind processing once per
    distinct value (rows of a batch share most of theirs, a timestamp for one), so
    what is stored is exactly what `insert(table)` would store; values must be
    hashable. Sync: for a flush or commit hook, or `AsyncConnection.run_sync`."""
    if not rows:
        return
    table = model.__table__
    dialect = conn.dialect
    procs: list[tuple[int, Any, dict[Any, Any]]] = [
        (i, proc, {}) for i, c in enumerate(columns)
        if (proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    params: Sequence[Sequence[Any]] = rows
    if procs:
        params = []
        for row in rows:
            values = list(row)
            for i, proc, done in procs:
                value = values[i]
                if value is not None:
                    out = done.get(value, _UNSET)
                    if out is _UNSET:
                        out = done[value] = proc(value)
                    values[i] = out
            params.append(tuple(values))
    preparer = dialect.identifier_preparer
    if dialect.paramstyle == "numeric_dollar":
        marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
    elif dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in columns)
    else:
        marks = ", ".join("%s" for _ in columns)
    names = ", ".join(preparer.quote(c) for c in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})", params
    )


async def sqlite_rows(session: AsyncSession, sql: str, params: dict[str, Any]
                      ) -> list[tuple[Any, ...]]:
    """A read on SQLite (`:name` parameters) sent straight to aiosqlite, in the
    session's transaction: one hop to the driver's thread, where SQLAlchemy's adapter
    makes four (cursor, execute, fetch, close) at ~0.1 ms each. For the matcher's
    lookups, which run once a report. Datetimes are bound as `UTCDateTime` binds
    them; rows come back as the driver gives them (`sqlite_stamp` reads a datetime)."""
    conn = await session.connection()
    bind = _stamp_processors(conn.dialect)[0]
    bound = {k: bind(v) if isinstance(v, datetime) else v for k, v in params.items()}
    driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's
    try:
        return list(await driver.execute_fetchall(sql, bound))
    except sqlite3.Error as exc:
        # As SQLAlchemy would raise it: "database is locked", a disk error are
        # `OperationalError`, which callers read as "the database is away".
        raise DBAPIError.instance(sql, bound, exc, sqlite3.Error) from exc


def sqlite_stamp(session: AsyncSession, value: Any) -> datetime | None:
    """A `UTCDateTime` column's value as `sqlite_rows` returns it, read as SQLAlchemy
    reads it."""
    result: datetime | None = _stamp_processors(session.get_bind().dialect)[1](value)
    return result


_stamps: dict[str, tuple[Any, Any]] = {}  # by dialect name: one entry, not one an engine


def _stamp_processors(dialect: Any) -> tuple[Any, Any]:
    found = _stamps.get(dialect.name)
    if found is None:
        impl = UTCDateTime().dialect_impl(dialect)
        found = _stamps[dialect.name] = (impl.bind_processor(dialect),
                                         impl.result_processor(dialect, None))
    return found


async def load_cursor(session: AsyncSession, connector: str) -> dict[str, Any]:
    row = await session.get(ConnectorState, connector)
    return dict(row.cursor) if row else {}


async def save_cursor(session: AsyncSession, connector: str, cursor: dict[str, Any]) -> None:
    mod = postgresql if dialect(session) == "postgresql" else sqlite
    stmt = mod.insert(ConnectorState).values(
        connector=connector, cursor=cursor, updated_at=utcnow()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector"],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)


async def reserve_ids(session: AsyncSession, model: Any, count: int) -> list[int]:
    """Primary keys for `count` rows about to be inserted, so a batch can be written
    with one multi-row INSERT instead of one INSERT ... RETURNING per row.

    PostgreSQL: taken from the table's sequence (safe with concurrent writers).
    SQLite: max(id) + 1..count; safe because BEGIN IMMEDIATE makes us the only writer.
    """
    if count <= 0:
        return []
    table = model.__table__
    if dialect(session) == "postgresql":
        rows = await session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                 "FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        )
        return [int(r[0]) for r in rows]
    top = (await session.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
    return list(range(top + 1, top + count + 1))


async def reserve_id_blocks(
    session: AsyncSession, wanted: Sequence[tuple[Any, int]]
) -> list[list[int]]:
    """`reserve_ids` for several tables, in one statement on SQLite (a batch needs
    keys for its tickets and its reports)."""
    if dialect(session) == "postgresql" or len(wanted) < 2:
        return [await reserve_ids(session, model, n) for model, n in wanted]
    tops = (await session.execute(select(*(
        select(func.coalesce(func.max(model.__table__.c.id), 0)).scalar_subquery()
        for model, _ in wanted
    )))).one()
    return [list(range(top + 1, top + n + 1)) if n > 0 else []
            for top, (_, n) in zip(tops, wanted, strict=True)]


async def resolve_ticket(session: AsyncSession, ticket: Ticket | None) -> Ticket | None:
    """Follow merges: a report aimed at a merged ticket lands on the surviving one."""
    seen = set()
    while ticket is not None and ticket.merged_into_id is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = await session.get(Ticket, ticket.merged_into_id)
    return ticket


async def ticket_by_number(session: AsyncSession, number: str) -> Ticket | None:
    return (
        await session.execute(select(Ticket).where(Ticket.number == number))
    ).scalar_one_or_none()


def reporter_tickets_query(source: str, handle: str) -> Select[Any]:
    """Tickets a reporter (as one source knows them) has reported on, newest first."""
    from storage.models import Report

    return (
        select(Ticket)
        .join(Report, Report.ticket_id == Ticket.id)
        .join(Reporter, Reporter.id == Report.reporter_id)
        .where(Reporter.source == source, Reporter.handle == handle)
        .group_by(Ticket.id)
        .order_by(func.max(Report.received_at).desc())
    )
