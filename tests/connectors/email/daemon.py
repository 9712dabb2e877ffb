"""`aggregator run` as a real subprocess with an email connector, for the crash and
end-to-end tests: what an operator runs, killed the way machines die."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.connectors.email.dovecot import PASSWORD, Dovecot
from tests.connectors.email.mails import AGENCY
from tests.connectors.email.sink import SmtpSink

REPO = Path(__file__).resolve().parents[3]


def write_config(path: Path, db_url: str, dovecot: Dovecot, user: str, sink: SmtpSink,
                 **email: Any) -> Path:
    conf = {
        "database": {"url": db_url},
        "web": {"enabled": False},
        "logging": {"level": "INFO", "format": "text"},
        "connectors": {"mail": {
            "type": "email",
            "imap": {"host": dovecot.host, "port": dovecot.port, "security": "plain",
                     "username": user, "password": PASSWORD, "poll_interval": 0.2,
                     **email.pop("imap", {})},
            "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "plain",
                     "from_address": AGENCY, "from_name": "Layanan Aduan"},
            **email,
        }},
    }
    path.write_text(yaml.safe_dump(conf))
    return path


class Daemon:
    def __init__(self, config: Path, log: Path):
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPO),
               "PYTHONFAULTHANDLER": "1"}
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(self.config), "run"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> int:
        """SIGTERM: the graceful stop an operator (or systemd) uses."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        for _ in range(300):
            if self.proc.poll() is not None:
                return self.proc.returncode
            await asyncio.sleep(0.05)
        self.proc.send_signal(signal.SIGABRT)  # faulthandler dumps every thread to the log
        return self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]
