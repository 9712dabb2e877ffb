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


# The features that compare every name of one text with the other, typos forgiven:
# most of the cost. Each lies in [0, 1], so the model can bound what they may add
# (`PairModel.ceiling`) and often say "no" without them.
COSTLY = ("jaccard_where", "anchored", "unplaced", "unexplained", "each_elsewhere")


def pair_features(new: Doc, old: Doc, time_window_hours: float, near_km: float
                  ) -> list[float]:
    known = cheap_features(new, old, time_window_hours, near_km)
    known.update(costly_features(new, old, known))
    return [known[name] for name in NAMES]


def cheap_features(new: Doc, old: Doc, time_window_hours: float, near_km: float
                   ) -> dict[str, float]:
    """Every feature but the COSTLY ones, by name."""
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
    words_new, words_old = sim._words(new.topic), sim._words(old.topic)
    shared = math.log1p(math.fsum(weight(w) for w in words_new & words_old))
    text = sim.topic_similarity(words_new, words_old)
    linked = place == "same" or near
    return {
        "text": text,
        "rare_shared": shared,
        "place_same": float(place == "same"),
        "place_different": float(place == "different"),
        "names_same": float(names == "same"),
        "names_different": float(names == "different"),
        "event_shared": float(shared_event),
        "event_other": float(bool(events_new and events_old and not shared_event)),
        "town": float(town),
        "same_sender": float(new.contact is not None and new.contact == old.contact),
        "near": float(near),
        "roundup": float(sim._roundup(new) or sim._roundup(old)),
        "log_hours": math.log1p(hours),
        "late": float(hours > time_window_hours),
        "ids_same": float(bool(new.ids) and sim._overlap(new.ids, old.ids)),
        "entity_shared": float(bool((new.topic | new.names) & (old.topic | old.names)
                                    & lex.entities)),
        "short": float(min(len(words_new), len(words_old)) <= 4),
        "facility_differs": float(sim._facilities_differ(new.places, old.places)),
        "quarter_differs": float(sim._other_quarter(new.places, old.places)),
        # At one place, only the words about what is wrong tell two problems apart.
        "text_same_place": text * float(linked),
        "rare_same_place": shared * float(linked),
    }


def costly_features(new: Doc, old: Doc, cheap: dict[str, float]) -> dict[str, float]:
    """The COSTLY features, by name (`cheap`: the others)."""
    where_new, where_old = sim._where(new), sim._where(old)
    return {
        "jaccard_where": _fuzzy_jaccard(where_new | _place_words(new),
                                        where_old | _place_words(old)),
        "anchored": float(bool(cheap["event_shared"]) and sim._anchored(new, old)),
        "unplaced": float(sim._unplaced_name(new, old) or sim._unplaced_name(old, new)),
        "unexplained": float(sim._unexplained(new, old) and sim._unexplained(old, new)),
        "each_elsewhere": float(sim._each_elsewhere(new, old)),
    }


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
