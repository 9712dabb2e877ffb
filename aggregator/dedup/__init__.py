"""Near-duplicate detection: one ticket per real-world problem.

`build_matcher(settings)` gives the pipeline its `NearDuplicateMatcher` (or None when
`dedup.enabled` is false). The parts: `normalize` (Indonesian text -> tokens),
`features` (tokens -> signature), `similarity` (two signatures -> verdict), `keys`
(signature -> LSH/place/location/contact keys), `store` (the indexed tables: reads and
writes), `matcher` (candidates verified, the best ticket wins), `merge` (staff merge
and split).
"""

from __future__ import annotations

from aggregator.config import Settings
from aggregator.dedup.matcher import LshMatcher

__all__ = ["LshMatcher", "build_matcher"]


def build_matcher(settings: Settings) -> LshMatcher | None:
    if not settings.dedup.enabled:
        return None
    return LshMatcher(settings.dedup)
