"""Test helpers shared by the core tests: a running Service and an API client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from aggregator.config import Settings, parse
from aggregator.runtime.service import Service
from storage.accounts import add_user, create_token


def service_settings(db_url: str, tmp_path: Path, **sections: Any) -> Settings:
    # These tests are about the service, not matching: near-duplicate folding is off
    # unless a test turns it on (its own tests live in tests/dedup).
    raw = {"database": {"url": db_url}, "web": {"port": 0},
           "logging": {"format": "text"}, "dedup": {"enabled": False}, **sections}
    return parse(raw, base_dir=tmp_path, env={})


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Service]:
    service = Service(settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def token_for(service: Service, name: str, role: str) -> str:
    async with service.sessions() as session, session.begin():
        await add_user(session, name, role)
        return await create_token(session, name)


class Api:
    """A tiny client for the staff API as a script or the web UI would use it."""

    def __init__(self, base: str, token: str | None):
        self.base, self.token = base, token

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = kw.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        async with aiohttp.ClientSession() as http, http.request(
            method, self.base + path, headers=headers, **kw
        ) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _main(argv: list[str], stdin: str | None) -> Result:
    from aggregator.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


async def cli_async(config: Path, *args: str, stdin: str | None = None) -> Result:
    """The real CLI entry point, run in a thread (it owns its own event loop)."""
    return await asyncio.to_thread(_main, ["--config", str(config), *args], stdin)
