"""The `webhook` connector: signed intake on the main web app, callbacks via the outbox.

It has no loop of its own: input arrives through `routes()`, so `run()` only waits to
be cancelled. Everything a request needs (limits, keys) is built once here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from aggregator.intake.port import Connector, ConnectorContext
from aggregator.messages import OutboundMessage, SendResult
from connectors.webhook import callback, status
from connectors.webhook.intake import Intake
from connectors.webhook.settings import WebhookSettings


class WebhookConnector(Connector):
    Settings = WebhookSettings
    settings: WebhookSettings

    def __init__(self, settings: WebhookSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        self.path = settings.path or f"/hooks/{ctx.name}"
        self.intake = Intake(settings, ctx, self.path)
        self.callback: callback.CallbackClient | None = None
        if settings.callback_url:
            self.callback = callback.CallbackClient(
                settings.callback_url, settings.signing_key(), settings.callback_timeout
            )

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [
            web.post(self.path, self.intake.handle),
            web.get(
                f"{self.path}/status/{{ref}}",
                status.handler(self.ctx, self.settings.secrets()),
            ),
        ]

    async def run(self) -> None:
        # Input arrives through routes(); wait here until the supervisor cancels us.
        await asyncio.get_running_loop().create_future()

    async def stop(self) -> None:
        # The outbox may still deliver after this (it stops later): CallbackClient
        # reopens its session on demand, so closing it here loses nothing.
        if self.callback is not None:
            await self.callback.close()

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.kind not in callback.KINDS or self.callback is None:
            return SendResult(skipped=True)
        # The ticket's state when the row was claimed, and when the row was queued
        # (stable across retries, so a receiver sees the same `at` every time).
        body = callback.build(message, source=self.name, state=message.ticket_state,
                              at=message.created_at)
        return await self.callback.post(body)

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "answers": dict(self.intake.counts),
            "last_accepted_at": self.intake.last_accepted,
        }
        if self.callback is not None:
            out["callbacks"] = {"delivered": self.callback.delivered,
                                "failed": self.callback.failed}
        return out
