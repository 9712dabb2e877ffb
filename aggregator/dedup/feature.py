"""The near-duplicate feature: the matcher for the pipeline, and the staff tools that
undo it (merge and split: routes and CLI commands)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from aggregator.dedup import build_matcher, cli
from aggregator.intake.matching import NearDuplicateMatcher
from aggregator.runtime.features import Feature
from aggregator.web import merge


class DedupFeature(Feature):
    name = "dedup"

    def matcher(self) -> NearDuplicateMatcher | None:
        return build_matcher(self.ctx.settings)

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return list(merge.routes)

    @classmethod
    def add_commands(cls, groups: dict[str, Any]) -> None:
        cli.register(groups["tickets"])
