"""Features: optional capabilities that plug into the service through one surface.

A feature may contribute ingest hooks, a near-duplicate matcher, HTTP routes, CLI
commands, ticket-detail sections, periodic jobs, outbox senders, commit hooks and the
survey link. The service lists its features explicitly
(`aggregator.runtime.service.FEATURES`); adding one is a folder with a `Feature`
subclass and one line there.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.delivery.outbox import SurveyLink
from aggregator.intake.ingest import CommitHook
from aggregator.intake.matching import IngestHook, NearDuplicateMatcher
from aggregator.messages import Sender
from aggregator.runtime.jobs import Job
from aggregator.tickets.query import Section

# A CLI command handler: (settings, parsed args) -> exit code.
Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


@dataclass
class FeatureContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    wake_outbox: Callable[[], None]


class Feature:
    """Base class: every contribution defaults to nothing."""

    name: ClassVar[str] = "feature"

    def __init__(self, ctx: FeatureContext):
        self.ctx = ctx

    def enabled(self) -> bool:
        return True

    def matcher(self) -> NearDuplicateMatcher | None:
        return None

    def ingest_hooks(self) -> Sequence[IngestHook]:
        return ()

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return ()

    def sections(self) -> dict[str, Section]:
        return {}

    def jobs(self) -> Sequence[Job]:
        return ()

    def senders(self) -> dict[str, Sender]:
        """Outbox senders by source name, beside the connectors (notification targets)."""
        return {}

    def commit_hooks(self) -> Sequence[CommitHook]:
        """Told what each ingest commit stored (after it committed; quick, no I/O)."""
        return ()

    def survey_link(self) -> SurveyLink | None:
        """Where a reporter answers the satisfaction survey of a resolved ticket; the
        outbox puts it on the "resolved" message (`OutboundMessage.survey_url`)."""
        return None

    @classmethod
    def add_commands(cls, groups: dict[str, Any]) -> None:
        """Add subcommands to the CLI's groups (`groups["tickets"]` is the `tickets`
        group's subparsers, `groups["aggregator"]` the top level's); each sets
        `handler=` a `Command`."""
