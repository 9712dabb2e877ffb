"""The daemon's threads share two glibc malloc arenas (aggregator/runtime/malloc.py),
unless the operator set MALLOC_ARENA_MAX.

The twelve threads wait at a barrier before they work, so all are alive at once: a
thread that exits hands its arena to the next one, and threads that happened to run one
after another would share arenas whatever the limit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

COUNT_ARENAS = """
import ctypes, re, sys, threading
from aggregator.runtime.malloc import limit_arenas
print(limit_arenas() if sys.argv[1] == "limit" else "-")
barrier = threading.Barrier(12)
def work():
    barrier.wait()
    for _ in range(500):
        [bytearray(2000) for _ in range(50)]
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.open_memstream.restype = ctypes.c_void_p
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
f = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
print(len(re.findall(r"<heap nr=", buf.value.decode())))
"""


def arenas(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], check=True,
                         capture_output=True, text=True, env={**environ, **env}).stdout
    applied, count = out.split()
    return applied, int(count)


def test_threads_share_two_arenas():
    assert arenas("limit") == ("True", 2)


def test_the_operators_setting_wins():
    assert arenas("limit", MALLOC_ARENA_MAX="3") == ("False", 3)
