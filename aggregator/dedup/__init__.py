"""Near-duplicate detection: one ticket per real-world problem.

`build_matcher(settings)` gives the pipeline its `NearDuplicateMatcher` (or None when
`dedup.enabled` is false). The parts: `normalize` (Indonesian text -> tokens),
`features` (tokens -> signature), `similarity` (two signatures -> verdict), `keys`
(signature -> LSH/place/location/contact keys), `store` (the indexed tables: reads and
writes), `matcher` (candidates verified, the best ticket wins), `merge` (staff merge
and split).
"""

from __future__ import annotations

from aggregator.config import DedupSettings, Settings
from aggregator.dedup import weights
from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.matcher import LshMatcher
from aggregator.dedup.model import MODEL_FILE, model_at
from aggregator.dedup.normalize import _stemmer

__all__ = ["LshMatcher", "build_matcher", "load_tables"]


def build_matcher(settings: Settings) -> LshMatcher | None:
    if not settings.dedup.enabled:
        return None
    load_tables(settings.dedup)
    return LshMatcher(settings.dedup)


def load_tables(settings: DedupSettings) -> None:
    """Everything the matcher reads once, read when it is built (with the service):
    the lexicon, the word frequencies, the stemmer's dictionary and the verdict's model
    (~0.6 s together). Read lazily, they stalled the event loop, and with it every
    connector, on the first report after each start; and a model file that does not
    fit this version is refused at start-up, not at the first comparison."""
    default_lexicon()
    weights.load_tables()
    _stemmer()
    model_at(settings.model or MODEL_FILE)
