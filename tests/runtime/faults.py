"""A TCP proxy that breaks on request, between a connector and its real upstream.

The connector is configured to talk to the proxy; the test switches the proxy's mode
while traffic flows, the way networks and servers fail in production:

  pass     bytes flow both ways untouched;
  hang     connections are accepted and requests swallowed, nothing ever answers
           (a server stuck in GC, a firewall dropping packets): clients must time out;
  reset    answers are cut after `reset_after` bytes with a TCP RST (a crashed server,
           a load balancer killing connections);
  garbage  answers are random bytes, the way a misrouted port answers (HTTP: the
           request reaches the server, but the client gets a 200 whose body is junk:
           a proxy or captive portal mangling the answer);
  error    the protocol's own "unavailable": an HTTP 503 page, an SMTP 421 greeting, an
           IMAP BYE greeting.

A mode change applies to connections already open as well as to new ones: long-lived
IMAP IDLE, pooled SMTP and keep-alive HTTP connections are hit too. Healing (back to
`pass`) drops the connections that were faulted, so clients reconnect cleanly.

`PrivateCluster` is the database's fault: a PostgreSQL cluster of the test's own that
it may restart or stop, where the shared server must never be touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("pass", "hang", "reset", "garbage", "error")

# The protocol's own way of saying "not now", sent in `error` mode.
ERROR_REPLY = {
    "http": (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
             b"Content-Length: 48\r\nConnection: close\r\n\r\n"
             b"<html><body>503 Service Unavailable</body></html>"),
    "smtp": b"421 4.3.2 Service not available, closing transmission channel\r\n",
    "imap": b"* BYE Server shutting down for maintenance\r\n",
}
SERVER_SPEAKS_FIRST = {"http": False, "smtp": True, "imap": True}


def _junk_200() -> bytes:
    junk = os.urandom(96)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(junk)}\r\nConnection: close\r\n\r\n".encode() + junk)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN: what a crashed peer looks like."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    faulted: bool = False  # touched by a fault: dropped when the proxy heals
    budget: int | None = None  # reset mode: bytes still allowed through
    mangle: bool = False  # garbage mode on HTTP: the answer is replaced by junk
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for w in (self.client, self.upstream):
            if w is not None:
                _abort(w)


class FaultProxy:
    def __init__(self, target_port: int, *, protocol: str = "http",
                 target_host: str = "127.0.0.1", reset_after: int = 24):
        if protocol not in ERROR_REPLY:
            raise ValueError(f"unknown protocol {protocol!r}")
        self.target = (target_host, target_port)
        self.protocol = protocol
        self.reset_after = reset_after
        self.mode = "pass"
        self.port = 0
        self.connections = 0  # accepted so far
        self.faulted = 0  # connections a fault touched: proof the fault met traffic
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
            for t in link.tasks:
                t.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    def set(self, mode: str) -> None:
        """Switch mode now, for open connections too."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        for link in list(self._links):
            if mode == "pass":
                if link.faulted:
                    link.abort()
            elif mode in ("reset", "error"):
                self.faulted += 1
                link.abort()
            else:
                self.faulted += not link.faulted
                link.faulted = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            mode = self.mode
            if mode in ("pass", "reset") or (mode == "garbage" and self.protocol == "http"):
                await self._relay(link, reader, mode)
            else:
                self.faulted += 1
                link.faulted = True
                await self._misbehave(mode, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._links.discard(link)
            link.abort()

    async def _misbehave(self, mode: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """A connection opened during a fault: no upstream at all."""
        if mode in ("error", "garbage"):
            if not SERVER_SPEAKS_FIRST[self.protocol]:
                await _read_http_request(reader)
            writer.write(ERROR_REPLY[self.protocol] if mode == "error" else os.urandom(96))
            await writer.drain()
            if mode == "error":
                return
        while await reader.read(65536):  # swallow until the client gives up or we heal
            if self.mode == "pass":
                return

    async def _relay(self, link: _Link, reader: asyncio.StreamReader, mode: str) -> None:
        try:
            up_reader, link.upstream = await asyncio.open_connection(*self.target)
        except OSError:
            return
        if mode != "pass":
            self.faulted += 1
            link.faulted = True
            link.budget = self.reset_after if mode == "reset" else None
            link.mangle = mode == "garbage"
        link.tasks = [asyncio.create_task(self._pump(link, reader, link.upstream, False)),
                      asyncio.create_task(self._pump(link, up_reader, link.client, True))]
        await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in link.tasks:
            t.cancel()

    async def _pump(self, link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    answers: bool) -> None:
        """One direction; `answers` is upstream -> client, the side faults rewrite."""
        while data := await src.read(65536):
            mode = "reset" if link.budget is not None else self.mode
            if mode == "hang":
                continue  # swallowed
            if answers and link.mangle:
                dst.write(_junk_200())
                await dst.drain()
                return
            if answers and mode == "garbage":
                data = os.urandom(len(data))
            if answers and link.budget is not None:
                data, link.budget = data[: link.budget], link.budget - len(data)
                if data:
                    dst.write(data)
                    await dst.drain()
                if link.budget <= 0:
                    link.abort()
                    return
                continue
            dst.write(data)
            await dst.drain()


async def _read_http_request(reader: asyncio.StreamReader) -> None:
    """Read one request (head and Content-Length body), so the answer comes after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            await reader.readexactly(int(value.strip()))


class PrivateCluster:
    """A throwaway PostgreSQL cluster of our own (initdb into a temp folder, a free
    port, its socket in the same folder), so a test may restart or kill it without
    touching the shared server. Runs as the `postgres` OS user, as PostgreSQL insists."""

    def __init__(self, port: int):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.bin = Path(found[-1]).parent if found else None
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="pgf", dir="/tmp"))
        self.data = self.dir / "data"

    @staticmethod
    def missing() -> str | None:
        if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
            return "PostgreSQL server binaries (initdb) are not installed"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "the postgres OS user is missing"
        if os.geteuid() != 0:
            return "starting a private cluster as the postgres user needs root"
        return None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.bin is not None
        return subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / args[0]),
                               *args[1:]], capture_output=True, text=True, check=check,
                              timeout=120)

    def init(self) -> PrivateCluster:
        pg = pwd.getpwnam("postgres")
        os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-o", opts, "-w", "-t", "60", action, *extra)

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "immediate") -> None:
        self._ctl("restart", "-m", mode)

    def createdb(self, name: str) -> None:
        self._run("createdb", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                  name)

    def log(self, tail: int | None = 3000) -> str:
        """The server's log, its last `tail` characters (None: all of it)."""
        path = self.dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-tail:] if tail else text

    def destroy(self) -> None:
        """Always safe to call: stops the server if it runs, removes every file."""
        if self.bin is not None and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
