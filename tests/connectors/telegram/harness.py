"""Test wiring: a fake Bot API, the real service configured with a telegram connector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aggregator.config import Settings, parse
from aggregator.runtime.service import Service
from tests.connectors.telegram.fake_bot_api import FakeBotAPI

NAME = "tg"


def tg_config(db_url: str, fake: FakeBotAPI, **overrides: Any) -> dict[str, Any]:
    web = overrides.pop("web", {})
    return {
        "database": {"url": db_url},
        "web": {"port": 0, **web},
        "logging": {"format": "text", "level": "WARNING"},
        "connectors": {NAME: {"type": "telegram", "token": "${TG_TOKEN}",
                              "api_base_url": fake.url, "poll_timeout": 5, **overrides}},
    }


def tg_settings(db_url: str, tmp_path: Path, fake: FakeBotAPI, **overrides: Any) -> Settings:
    return parse(tg_config(db_url, fake, **overrides), base_dir=tmp_path,
                 env={"TG_TOKEN": fake.token})


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0,
                     what: str = "") -> None:
    """Poll an async condition (database state) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


async def count(svc: Service, model: Any, *where: Any) -> int:
    async with svc.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))
                ).scalar_one()


def ticket_number_in(text: str) -> str:
    import re

    found = re.search(r"ADU-\d{4}-\d{6}", text)
    assert found, f"no ticket number in {text!r}"
    return found.group(0)
