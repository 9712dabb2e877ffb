"""What a process holds and spends, read from /proc (Linux): open files, TCP peers,
CPU time. Benchmarks use it to say what limits a figure: CPU everyone shares, or
waiting on something."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def fds(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def tcp_peers(pid: int) -> list[tuple[int, int]]:
    """(local port, remote port) of the process's established IPv4/IPv6 TCP sockets."""
    inodes = {t[8:-1] for t in fds(pid) if t.startswith("socket:[")}
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[9] in inodes and f[3] == "01":  # ESTABLISHED
                out.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS
