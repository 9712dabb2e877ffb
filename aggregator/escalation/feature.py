"""Escalation as a feature: the policy runner (a single-instance job, which also tells
staff about flooding channels), the acknowledge route, the ticket-detail section and
the webhook notification sender."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.config import Settings
from aggregator.domain import Priority
from aggregator.escalation import routes as escalation_routes
from aggregator.escalation.channels import notify_channel_alarms
from aggregator.escalation.policy import Level, Trigger, normal_word
from aggregator.escalation.runner import WEBHOOK_SOURCE, Policy, Target, as_dict, run_round
from aggregator.escalation.settings import EscalationSettings
from aggregator.escalation.webhook import WebhookNotifier
from aggregator.messages import Sender
from aggregator.runtime.features import Feature
from aggregator.runtime.jobs import Job
from aggregator.tickets.query import Section
from storage.models import Escalation, Ticket


class EscalationFeature(Feature):
    name = "escalation"

    def enabled(self) -> bool:
        return self.ctx.settings.escalation.enabled

    def jobs(self) -> Sequence[Job]:
        policy = build_policy(self.ctx.settings)

        async def round_() -> None:
            async with self.ctx.sessions() as session, session.begin():
                acted = await run_round(session, policy)
            if self.ctx.settings.virality.enabled:  # a flooding channel (virality/channels)
                async with self.ctx.sessions() as session, session.begin():
                    acted += await notify_channel_alarms(session, policy)
            if acted:
                self.ctx.wake_outbox()

        interval = self.ctx.settings.escalation.interval.total_seconds()
        return [Job("escalation", round_, interval=interval, single_instance=True)]

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return list(escalation_routes.routes)

    def sections(self) -> dict[str, Section]:
        async def escalation(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
            return as_dict(await session.get(Escalation, ticket.id))

        return {"escalation": escalation}

    def senders(self) -> dict[str, Sender]:
        hooks = {name: (t.url, t.secret.get_secret_value().encode())
                 for name, t in self.ctx.settings.escalation.targets.items()
                 if t.url and t.secret}
        return {WEBHOOK_SOURCE: WebhookNotifier(hooks)} if hooks else {}


def build_policy(settings: Settings) -> Policy:
    esc: EscalationSettings = settings.escalation
    levels = [
        Level(
            name=lv.name,
            triggers=tuple(Trigger(
                virality_level=t.virality_level, reports=t.reports, within=t.within,
                keywords=tuple(normal_word(k) for k in t.keywords),
                first_response_due_within=t.first_response_due_within,
                first_response_breached=t.first_response_breached,
                resolution_breached=t.resolution_breached,
            ) for t in lv.when),
            priority=Priority[lv.priority.upper()] if lv.priority else None,
            unit=lv.unit, assignee=lv.assignee, notify=tuple(lv.notify), repeat=lv.repeat,
        )
        for lv in esc.levels
    ]
    targets = {
        name: Target(WEBHOOK_SOURCE, name) if t.url else Target(str(t.connector), str(t.to))
        for name, t in esc.targets.items()
    }
    triggers = [t for lv in levels for t in lv.triggers]
    window = max((t.within for t in triggers if t.within), default=timedelta(hours=1))
    horizon = max((t.first_response_due_within for t in triggers
                   if t.first_response_due_within), default=timedelta(0))
    base = (settings.web.public_url or f"http://{settings.web.host}:{settings.web.port}")
    return Policy(
        levels=levels, targets=targets,
        keywords=tuple(sorted({k for t in triggers for k in t.keywords})),
        window=window, horizon=horizon,
        ticket_url=base.rstrip("/") + "/api/tickets/{number}",
    )
