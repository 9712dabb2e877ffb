"""Run `aggregator run` as a real process, as an operator would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, db_url: str, port: int, connectors: dict[str, Any],
                 **sections: Any) -> Path:
    """A config file for `aggregator run`; `sections` adds or replaces top-level keys."""
    path.write_text(yaml.safe_dump({
        "database": {"url": db_url},
        "web": {"host": "127.0.0.1", "port": port},
        "logging": {"format": "json", "level": "INFO"},
        "connectors": connectors,
        **sections,
    }))
    return path


class Daemon:
    def __init__(self, config: Path, port: int, env: dict[str, str] | None = None):
        self.config, self.port = config, port
        self.env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{port}"

    async def start(self, ready_within: float = 30.0) -> float:
        """Start and wait for /healthz; returns seconds it took."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aggregator", "--config", str(self.config), "run",
            env=self.env, stdout=asyncio.subprocess.DEVNULL,
            stderr=open(self.config.with_suffix(".log"), "ab"),  # noqa: SIM115
        )
        async with aiohttp.ClientSession() as http:
            while loop.time() - t0 < ready_within:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"daemon exited with {self.proc.returncode}: "
                                       + self.config.with_suffix(".log").read_text()[-2000:])
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return loop.time() - t0
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("daemon did not answer /healthz in time")

    async def terminate(self, within: float = 10.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds to exit)."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), within)
        return code, loop.time() - t0

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def log(self) -> str:
        return self.config.with_suffix(".log").read_text()
