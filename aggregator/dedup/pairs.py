"""What two signatures have in common, as numbers: the input of the learned verdict.

Each rule of `similarity` is evidence, not a verdict: extraction of places and names
from a tweet is noisy, so "different names" or "no shared place" are only more or
less likely to mean two incidents. The weights of that evidence are learned from
labelled sets written independently of this code (`bench/dedup_train.py`), not set
by hand. Pure, no I/O.

"""

from __future__ import annotations

import math

import aggregator.dedup.similarity as sim
from aggregator.dedup.features import Doc, distance_km
from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.weights import weight

# The order is the model's: a model file names its features and is checked against it.
NAMES = (
    "text", "jaccard_where", "rare_shared", "place_same", "place_different",
    "names_same", "names_different", "event_shared", "event_other", "anchored",
    "town", "same_sender", "near", "unplaced", "unexplained", "each_elsewhere",
    "roundup", "log_hours", "late", "ids_same", "entity_shared", "short",
    "facility_differs", "quarter_differs", "text_same_place", "rare_same_place",
)


def pair_features(new: Doc, old: Doc, time_window_hours: float, near_km: float
                  ) -> list[float]:
    hours = abs(new.at - old.at) / 3600 if new.at and old.at else 0.0
    lex = default_lexicon()
    place = sim.place_relation(new.places, old.places)
    names = sim.name_relation(new.names, old.names)
    events_new, events_old = new.topic & lex.events, old.topic & lex.events
    shared_event = bool(events_new & events_old)
    town = hours <= sim.CITYWIDE_HOURS and bool(
        new.topic & old.topic & lex.town_events) and sim._one_town(new, old)
    near = False
    if new.lat is not None and old.lat is not None:
        near = distance_km(new.lat, new.lon or 0.0, old.lat, old.lon or 0.0) <= near_km
    where_new, where_old = sim._where(new), sim._where(old)
    words_new, words_old = sim._words(new.topic), sim._words(old.topic)
    shared = math.log1p(sum(weight(w) for w in words_new & words_old))
    text = sim.topic_similarity(words_new, words_old)
    linked = place == "same" or near
    return [
        text,
        _fuzzy_jaccard(where_new | _place_words(new), where_old | _place_words(old)),
        shared,
        float(place == "same"),
        float(place == "different"),
        float(names == "same"),
        float(names == "different"),
        float(shared_event),
        float(bool(events_new and events_old and not shared_event)),
        float(shared_event and sim._anchored(new, old)),
        float(town),
        float(new.contact is not None and new.contact == old.contact),
        float(near),
        float(sim._unplaced_name(new, old) or sim._unplaced_name(old, new)),
        float(sim._unexplained(new, old) and sim._unexplained(old, new)),
        float(sim._each_elsewhere(new, old)),
        float(sim._roundup(new) or sim._roundup(old)),
        math.log1p(hours),
        float(hours > time_window_hours),
        float(bool(new.ids) and sim._overlap(new.ids, old.ids)),
        float(bool((new.topic | new.names) & (old.topic | old.names) & lex.entities)),
        float(min(len(words_new), len(words_old)) <= 4),
        float(sim._facilities_differ(new.places, old.places)),
        float(sim._other_quarter(new.places, old.places)),
        # At one place, only the words about what is wrong tell two problems apart.
        text * float(linked), shared * float(linked),
    ]


def _place_words(doc: Doc) -> frozenset[str]:
    return frozenset(w for p in doc.places for w in p.name if not w.isdigit())


def _fuzzy_jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the words that name where or who, typos forgiven."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    rest_a, rest_b = a - b, b - a
    if rest_a and rest_b:
        shared += len(sim._fuzzy_pairs(rest_a, rest_b))
    return shared / (len(a) + len(b) - shared)
