"""Which escalation level a ticket has reached, and why. Pure: facts in, verdict out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.domain import Priority


@dataclass(frozen=True)
class Trigger:
    """Fires when every condition it sets holds (unset conditions are ignored)."""

    virality_level: int | None = None  # the detector's level reached
    reports: int | None = None  # at least this many reports ...
    within: timedelta | None = None  # ... sent within this window
    keywords: tuple[str, ...] = ()  # any of these words in a report
    first_response_due_within: timedelta | None = None  # no staff answer and due soon
    first_response_breached: bool = False
    resolution_breached: bool = False


@dataclass(frozen=True)
class Level:
    name: str
    triggers: tuple[Trigger, ...]  # any of them
    priority: Priority | None = None  # raise to at least this
    unit: str | None = None
    assignee: str | None = None
    notify: tuple[str, ...] = ()  # target names
    repeat: timedelta | None = None  # notify again this often until acknowledged


@dataclass(frozen=True)
class Facts:
    now: datetime
    virality_level: int = 0
    virality_stream: str = "reports"  # what drove the level: reports | engagement
    report_times: Sequence[datetime] = ()  # the ticket's reports, by their own times
    keywords_seen: frozenset[str] = frozenset()
    first_response_due: datetime | None = None
    first_response_at: datetime | None = None
    resolution_due: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    level: int  # 0: no level reached; n: levels[n - 1]
    reasons: list[str] = field(default_factory=list)


def fires(t: Trigger, f: Facts) -> str | None:
    """Why the trigger fires, or None."""
    why: list[str] = []
    if t.virality_level is not None:
        if f.virality_level < t.virality_level:
            return None
        why.append(f"going viral (level {f.virality_level})"
                   if f.virality_stream != "engagement" else
                   f"going viral on social media: shares and replies (level "
                   f"{f.virality_level})")
    if t.reports is not None:
        since = f.now - t.within if t.within is not None else None
        n = sum(1 for at in f.report_times if since is None or at >= since)
        if n < t.reports:
            return None
        why.append(f"{n} reports" + (f" within {_human(t.within)}" if t.within else ""))
    if t.keywords:
        hit = sorted(f.keywords_seen & {normal_word(k) for k in t.keywords})
        if not hit:
            return None
        why.append("watch words: " + ", ".join(hit))
    if t.first_response_due_within is not None:
        due = f.first_response_due
        if f.first_response_at is not None or due is None or \
                due - f.now > t.first_response_due_within:
            return None
        why.append("first response due " + ("now" if due <= f.now else
                                           f"within {_human(due - f.now)}"))
    if t.first_response_breached:
        due = f.first_response_due
        done = f.first_response_at
        if due is None or (done or f.now) <= due:
            return None
        why.append("first response deadline passed")
    if t.resolution_breached:
        due = f.resolution_due
        if due is None or (f.resolved_at or f.now) <= due:
            return None
        why.append("resolution deadline passed")
    return "; ".join(why) or None


def evaluate(levels: Sequence[Level], facts: Facts) -> Verdict:
    """The highest level any of whose triggers fires (levels are ordered)."""
    for i in range(len(levels), 0, -1):
        reasons = [r for t in levels[i - 1].triggers if (r := fires(t, facts))]
        if reasons:
            return Verdict(i, reasons)
    return Verdict(0)


_WORD = re.compile(r"[^\W\d_]+")


def normal_word(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold().strip()


def words_in(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(normal_word(text)))


def _human(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"
