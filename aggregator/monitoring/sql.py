"""SQL expressions the figures need that SQLite and PostgreSQL spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it is
    """Seconds since 1970 of a stored UTC moment, as a float (NULL stays NULL).
    Fetching numbers rather than datetimes keeps a year of tickets cheap to read."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_pg(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return (f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"
            " AS DOUBLE PRECISION)")


class day_number(FunctionElement[int]):  # noqa: N801
    """Whole days since 1970 of an epoch value shifted by a fixed UTC offset (seconds):
    the local day, for zones without daylight saving (all of Indonesia's)."""

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number, "sqlite")
def _day_sqlite(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    value, offset = list(element.clauses)
    return (f"CAST(({compiler.process(value, **kw)} + {compiler.process(offset, **kw)})"
            " / 86400.0 AS INTEGER)")


@compiles(day_number, "postgresql")
def _day_pg(element: day_number, compiler: SQLCompiler, **kw: Any) -> str:
    value, offset = list(element.clauses)
    return (f"CAST(FLOOR(({compiler.process(value, **kw)} + {compiler.process(offset, **kw)})"
            " / 86400.0) AS BIGINT)")
