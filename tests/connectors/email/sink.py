"""A local SMTP sink (aiosmtpd) that keeps what it receives, parsed."""

from __future__ import annotations

import asyncio
import email
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

try:
    from tests.connectors.email.dovecot import free_port
except ImportError:  # run as a script (SinkProcess)
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from tests.connectors.email.dovecot import free_port


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:  # parsed when read: keeps the sink cheap under load
            self.sink.raw.append(envelope.content)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.raw: list[bytes] = []
        self._parsed: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            for raw in self.raw[len(self._parsed):]:
                self._parsed.append(
                    email.message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
            return list(self._parsed)

    def __len__(self) -> int:
        with self.lock:
            return len(self.raw)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    async def wait(self, count: int, within: float = 15.0) -> list[EmailMessage]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if len(self) >= count:
                return self.messages
            await asyncio.sleep(0.02)
        return self.messages


class SinkProcess:
    """The same sink in its own process, for the benchmark: an in-process sink
    competes with the service for the GIL and measures itself. Each message is a
    file in `folder`."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.port), str(self.folder)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("SMTP sink process did not start")

    def count(self) -> int:
        return sum(1 for name in os.listdir(self.folder) if name.endswith(".eml"))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def _serve(port: int, folder: Path) -> None:
    counter = itertools.count()

    class Store:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            n = next(counter)
            tmp = folder / f"{n}.tmp"
            tmp.write_bytes(envelope.content)
            tmp.rename(folder / f"{n}.eml")
            return "250 OK"

    controller = Controller(Store(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    _serve(int(sys.argv[1]), Path(sys.argv[2]))
