"""The staff web UI as a feature: its pages and static files on the daemon's web
server, and a job that forgets expired sessions."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from aggregator.runtime.features import Feature, FeatureContext
from aggregator.runtime.jobs import Job
from aggregator.webui import sessions
from aggregator.webui.admin import AdminPages
from aggregator.webui.base import Ui
from aggregator.webui.login import LoginPages
from aggregator.webui.ops import OpsPages
from aggregator.webui.queue import QueuePages
from aggregator.webui.static import Static
from aggregator.webui.ticket import TicketPages
from aggregator.webui.ticket_actions import TicketActions


class WebUIFeature(Feature):
    name = "webui"

    def __init__(self, ctx: FeatureContext):
        super().__init__(ctx)
        self.static = Static()
        self.ui = Ui(ctx.settings, ctx.sessions, ctx.read_sessions, ctx.wake_outbox)
        self.ui.renderer.env.globals["static"] = self.static.url

    def enabled(self) -> bool:
        return self.ctx.settings.webui.enabled and self.ctx.settings.web.enabled

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        pages = (LoginPages, QueuePages, TicketPages, TicketActions, AdminPages, OpsPages)
        return [*self.static.routes(), *(r for cls in pages for r in cls(self.ui).routes())]

    def jobs(self) -> Sequence[Job]:
        idle = self.ctx.settings.webui.session_idle

        async def sweep() -> None:
            async with self.ctx.sessions() as session, session.begin():
                await sessions.sweep(session, idle)

        return [Job("webui-sessions", sweep, interval=3600.0, single_instance=True)]
