"""Two glibc malloc arenas for the daemon, not one per thread.

glibc gives threads that contend for the heap arenas of their own, up to eight per
core. The daemon's threads (SQLite connections, DNS and file work in the default
executor) each allocate and free in their own arena, and the free space scattered
over those arenas is not handed back: under a steady load the soak
(bench/soak.py) saw free arena space grow from 5 to 22 MB in ten minutes while the
memory in use stayed at 45-48 MB. With two arenas it stayed at 5-9 MB and RSS grew
half as fast. Two, not one: the event loop's thread keeps an arena of its own.

Same as `MALLOC_ARENA_MAX=2` in the environment, which wins when set; nothing is done
on a C library other than glibc.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger("aggregator.runtime")

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas before the daemon starts its threads; True when applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False  # the operator chose; glibc read it at start
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: no library search
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no arenas)
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_ARENA_MAX, arenas))
    if not ok:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return ok
