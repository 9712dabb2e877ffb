"""How the port reports that the database is away, as opposed to bad input."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

P = ParamSpec("P")
T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """The database did not answer (down, locked, failing over). The connector should
    leave its input unacknowledged and try again later; any other error from the port
    is a fault of the input or a bug."""


def guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn a database outage inside `fn` into `StoreUnavailable`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (OperationalError, InterfaceError, TimeoutError, ConnectionError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}"[:500]) from exc

    return wrapper
