"""Fragments of one incident: two tickets whose reports, taken all together, match
more than they are certainly apart. Pure, no I/O.

A viral incident told many ways often opens several tickets before any report links
them, and each later report joins the fragment it matches best. One report matching a
report of each is weak evidence (it may fit two incidents at one place through what
they share); the two fragments' reports against each other are strong: a burst's
fragments match each other here and there, and are seldom certainly apart, while two
incidents at one place match rarely and are often certainly apart (another facility,
another person, another number). Average linkage, not single: one chain of near
misses does not join two incidents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aggregator.config import DedupSettings
from aggregator.dedup.features import Doc
from aggregator.dedup.verdict import compare

# Reports of each ticket weighed: those among the new report's candidates (sharing
# most keys with it), already read and parsed; a burst's reports are much alike.
PER_FRAGMENT = 20
LINKAGE = 0.05  # (matching pairs - APART_WEIGHT * certainly-apart pairs) / all pairs
APART_WEIGHT = 1.0
MIN_SAME = 3  # matching pairs at least: two small fragments say little either way


def linkage(ours: Sequence[Doc], theirs: Sequence[Doc], cfg: DedupSettings) -> float:
    """Over every pair of one report of each: the share that match, less
    APART_WEIGHT times the share the written rules say are certainly apart (a
    recurrence is not: it says nothing of two fragments of one burst). 0 without
    MIN_SAME matching pairs, decided as soon as the pairs left cannot make them up."""
    total = len(ours) * len(theirs)
    score, same, left = 0.0, 0, total
    for a in ours:
        for b in theirs:
            if same + left < MIN_SAME:
                return 0.0
            left -= 1
            new, old = (a, b) if a.at >= b.at else (b, a)
            verdict = compare(new, old, cfg)
            if verdict.same:
                score += 1.0
                same += 1
            elif verdict.detail.get("apart") not in (None, "recurrence"):
                score -= APART_WEIGHT
    return score / total if same >= MIN_SAME else 0.0


def fragments_of(ours: Sequence[Doc], others: Mapping[int, Sequence[Doc]],
                 cfg: DedupSettings) -> list[int]:
    """The tickets of `others` that are fragments of the one `ours` belongs to."""
    return [ticket for ticket, docs in others.items() if linkage(ours, docs, cfg) >= LINKAGE]
