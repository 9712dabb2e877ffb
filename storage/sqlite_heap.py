"""SQLite's own heap in this process: page caches, schemas and prepared statements of
every connection. It is memory Python's allocator never sees, so a growing RSS on
SQLite is only explained with this figure beside it (`/metrics`,
`aggregator_sqlite_heap_bytes`).

Read through the shared library Python's `sqlite3` module is linked with (loaded once
per process, so its counters are the ones our connections move); where that library
cannot be found (a statically linked build), the figure is absent, not wrong.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError):
        return None
    return lib


_PAGECACHE_OVERFLOW = 2  # SQLITE_STATUS_PAGECACHE_OVERFLOW: page cache from the heap


def heap_parts() -> dict[str, int] | None:
    """The heap as page caches (bounded by `cache_size` and the soft heap limit) and
    the rest (prepared statements, schemas, per-connection buffers), or None when
    they cannot be read."""
    lib = _library()
    if lib is None:
        return None
    cur, high = ctypes.c_int64(), ctypes.c_int64()
    if lib.sqlite3_status64(_PAGECACHE_OVERFLOW, ctypes.byref(cur), ctypes.byref(high), 0):
        return None
    total = int(lib.sqlite3_memory_used())
    return {"page_cache": cur.value, "other": max(0, total - cur.value)}
