"""Seams of the ingest pipeline that later stages plug into.

`NearDuplicateMatcher` finds an open ticket about the same real-world problem;
`IngestHook` sees every batch of reports after it is written (virality scoring, escalation).
Both run inside the ingest transaction, so what they write commits with the report.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import Report
from storage.models import Ticket


@dataclass(frozen=True, slots=True)
class Match:
    """The ticket a report belongs to; with `recurrence`, the earlier ticket of a
    problem that came back after `dedup.recurrence_hours`: the report opens a new
    ticket that links to it instead of joining it."""

    ticket_id: int
    score: float
    detail: dict[str, Any] = field(default_factory=dict)
    recurrence: bool = False


class NearDuplicateMatcher(Protocol):
    async def find(
        self, session: AsyncSession, report: Report, reporter_id: int | None
    ) -> Match | None:
        """An open (or recently closed) ticket this report duplicates, if any."""
        ...

    async def index(
        self, session: AsyncSession, report: Report, report_id: int, ticket_id: int,
        confidential: bool = False,
    ) -> None:
        """Remember a stored report so later ones can be matched against it
        (`confidential`: its ticket is sealed)."""
        ...


@dataclass(frozen=True, slots=True)
class Ingested:
    """One report as ingest stored it, for the hooks."""

    report: Report
    report_id: int
    ticket: Ticket
    created_ticket: bool
    reason: str  # how it was matched (see IngestResult.match_reason)


class IngestHook(Protocol):
    """Sees every batch of new reports inside the ingest transaction, after the
    batch's tickets, reports and events are written (so writes may refer to them)."""

    async def after_ingest(self, session: AsyncSession, ingested: Sequence[Ingested]) -> None:
        ...


_SPACE = re.compile(r"\s+")


def text_hash(text: str) -> str:
    """Hash of the text up to case, Unicode form and white space: catches the same
    message sent twice (double submit, copy-paste into two channels)."""
    norm = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha1(_SPACE.sub(" ", norm).strip().encode()).hexdigest()
