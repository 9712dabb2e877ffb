"""What a process holds and spends, read from /proc (Linux): open files, TCP peers,
CPU time. Benchmarks use it to say what limits a figure: CPU everyone shares, or
waiting on something."""

from __future__ import annotations

import os
from collections import Counter
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


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, every core: on a shared
    machine, what others took from a run is the busy time not counted to its processes."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


def open_kinds(pid: int, upstreams: dict[int, str], serving: int) -> Counter[str]:
    """The process's open files by what they are: the database's files, other files,
    TCP connections to each upstream (by its port), connections its clients made to
    `serving`, other sockets. A count that grows is then a kind that grows."""
    peers = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            peers[f[9]] = (int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16))
    kinds: Counter[str] = Counter()
    for target in fds(pid):
        if target.startswith("socket:["):
            local, remote = peers.get(target[8:-1], (0, 0))
            kind = (f"to {upstreams[remote]}" if remote in upstreams else
                    "from clients" if local == serving and remote else "other sockets")
        elif target.startswith("/"):
            kind = "database files" if any(target.endswith(s) for s in (
                ".db", ".db-wal", ".db-shm", ".db-journal")) else "other files"
        else:
            kind = "other files"  # pipes, epoll, /dev/null...
        kinds[kind] += 1
    return kinds
