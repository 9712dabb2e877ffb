"""What the web handlers get from the service: `request.app[SERVICE]`.

A small context rather than the service itself, so the web layer depends only on
what it uses (sessions, settings, a way to wake the outbox) and not on how the
service is assembled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.tickets.query import Section


@dataclass
class WebContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    wake_outbox: Callable[[], None]
    health: Callable[[], dict[str, Any]]
    sections: dict[str, Section] = field(default_factory=dict)  # ticket-detail extras

    def outbox_wake(self) -> None:
        self.wake_outbox()


SERVICE: web.AppKey[WebContext] = web.AppKey("service", WebContext)
