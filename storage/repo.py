"""Small repository functions shared by the pipeline, the API and the connectors.

They take an open `AsyncSession` and never commit: the caller owns the transaction,
which is what lets a report, its ticket change and its outbox row commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConnectorState, Reporter, Ticket
from storage.types import utcnow


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
