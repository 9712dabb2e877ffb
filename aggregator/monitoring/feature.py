"""Monitoring and evaluation as a feature: the figures API, dashboard and monthly
report, CSV exports, the satisfaction survey form and its signed links, the Prometheus
endpoint fed by the ingest commit hook, and `aggregator report`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from aiohttp import web

from aggregator.config import Settings
from aggregator.delivery.outbox import SurveyLink
from aggregator.intake.ingest import CommitHook
from aggregator.monitoring import routes as monitoring_routes
from aggregator.monitoring.metrics import Metrics
from aggregator.monitoring.metrics import route as metrics_route
from aggregator.monitoring.rollup import Rollup
from aggregator.monitoring.settings import GENERATE
from aggregator.monitoring.survey import SurveyLinks
from aggregator.monitoring.survey import handlers as survey_handlers
from aggregator.runtime.features import Feature, FeatureContext
from aggregator.runtime.jobs import Job
from aggregator.secretfile import generated_secret


class MonitoringFeature(Feature):
    name = "monitoring"

    def __init__(self, ctx: FeatureContext):
        super().__init__(ctx)
        self.metrics = Metrics()
        self.rollup = Rollup(ctx.settings, ctx.sessions, ctx.read_sessions)

    def enabled(self) -> bool:
        return self.ctx.settings.monitoring.enabled

    @cached_property
    def links(self) -> SurveyLinks:
        settings = self.ctx.settings
        survey = settings.monitoring.survey
        secret = survey.secret.get_secret_value()
        if secret == GENERATE:
            secret = generated_secret(settings.data_dir / "secrets" / "survey.secret")
        return SurveyLinks(secret.encode(), public_base(settings), survey.link_days)

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        conf = self.ctx.settings.monitoring
        out: list[web.AbstractRouteDef] = list(monitoring_routes.routes(self.rollup))
        if conf.metrics.enabled:
            token = conf.metrics.token.get_secret_value() if conf.metrics.token else None
            out.append(metrics_route(self.metrics, token))
        if conf.survey.enabled:
            out += survey_handlers(self.links, conf.language)
        return out

    def jobs(self) -> Sequence[Job]:
        async def round_() -> None:
            await self.rollup.refresh()

        interval = self.ctx.settings.monitoring.refresh_interval.total_seconds()
        return [Job("monitoring", round_, interval=interval, single_instance=True)]

    def commit_hooks(self) -> Sequence[CommitHook]:
        return [self.metrics.observe]

    def survey_link(self) -> SurveyLink | None:
        if not self.ctx.settings.monitoring.survey.enabled:
            return None
        return self.links.url

    @classmethod
    def add_commands(cls, groups: dict[str, Any]) -> None:
        p = groups["aggregator"].add_parser(
            "report", help="write a month's report (HTML, prints to PDF) and CSV files")
        p.add_argument("--month", required=True, help="the month, e.g. 2026-11")
        p.add_argument("--unit", help="one unit only")
        p.add_argument("--channel", help="tickets that came in through one channel only")
        p.add_argument("--lang", choices=["id", "en"], help="default: monitoring.language")
        p.add_argument("--out", required=True, help="folder to write the files into")
        p.set_defaults(handler=_report)


def public_base(settings: Settings) -> str:
    """How the public reaches the service: `web.public_url`, else where it listens."""
    web_ = settings.web
    host = "127.0.0.1" if web_.host in ("", "0.0.0.0", "::") else web_.host
    return (web_.public_url or f"http://{host}:{web_.port}").rstrip("/")


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator.monitoring.cli import write_report

    return await write_report(settings, args)
