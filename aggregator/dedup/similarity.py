"""Is this earlier report about the same real-world problem? Pure, no I/O.

Text similarity alone cannot tell "the queue machine at RSUD Pasar Minggu is broken"
from the same words about RSUD Pasar Rebo, and it misses a tweet and a long e-mail
about one incident. So the verdict weighs evidence:
- hard "no": different named places of the same kind, locations far apart, different
  personal numbers (two people's BPJS cards), different proper names and nothing
  else linking the two;
- links that lower the bar: same named place, nearby location, same sender;
- the topic similarity (stems without place and name words) must then reach the bar;
- short of the bar, the same relations become the features of `pairs`, weighed by a
  model learned from labelled sets (`model`, `verdict`).
A wrong merge hides a complaint, a missed one only costs staff a click: every doubt
says "no". A recurrence (sent weeks apart) is never a merge, but is linked.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aggregator.dedup.abbrev import shortened, skeleton_of
from aggregator.dedup.features import QUARTER, Doc, Place, distance_km
from aggregator.dedup.fuzzy import fuzzy_pairs as _fuzzy_pairs
from aggregator.dedup.fuzzy import missing as _missing
from aggregator.dedup.fuzzy import overlap as _overlap
from aggregator.dedup.fuzzy import typo as _typo
from aggregator.dedup.lexicon import Lexicon, default_lexicon
from aggregator.dedup.towns import common_name, may_hold, one_may_contain
from aggregator.dedup.weights import weight

TEXT_BAR = 0.4  # similarity two reports need when only the text links them
PLACE_BAR = 0.25  # ... when both name the same place or lie within near_km
CONTACT_BAR = 0.3  # ... when the same e-mail/phone sent both
LATE_PENALTY = 0.1
WEAK_NAME_PENALTY = 0.2
EVENT_THRESHOLD = 0.1
ANCHORED_EVENT_THRESHOLD = 0.15
CITYWIDE_HOURS = 12  # one kind of incident across one town within this: one incident
ROUNDUP_TOWNS = 3  # towns a report names to be a summary, not one incident


class Thresholds(Protocol):
    @property
    def threshold(self) -> float | None: ...
    @property
    def model(self) -> Path | None: ...
    @property
    def near_km(self) -> float: ...
    @property
    def far_km(self) -> float: ...
    @property
    def time_window_hours(self) -> float: ...
    @property
    def recurrence_hours(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    same: bool
    score: float
    detail: dict[str, Any] = field(default_factory=dict)


def written_rules(new: Doc, old: Doc, cfg: Thresholds, hours: float) -> Verdict:
    """The written rules: hard "no"s (`apart`), and a text-similarity bar that links
    (same place, same sender, same event) lower."""
    detail: dict[str, Any] = {}
    if new.ids and old.ids and not _overlap(new.ids, old.ids):
        return Verdict(False, 0.0, {"apart": "different personal numbers"})
    place = place_relation(new.places, old.places)
    # A power cut over a whole town told from its districts ("padam di Helvetia",
    # "blackout se Medan", "PLN Medan"): one incident, unless two facilities differ.
    town = hours <= CITYWIDE_HOURS and bool(
        new.topic & old.topic & default_lexicon().town_events) and _one_town(new, old)
    if (place == "different" and not town) or _other_quarter(new.places, old.places):
        return Verdict(False, 0.0, {"apart": "different places"})
    km = None
    if new.lat is not None and old.lat is not None:
        km = distance_km(new.lat, new.lon or 0.0, old.lat, old.lon or 0.0)
        detail["km"] = round(km, 2)
        if km > cfg.far_km:
            return Verdict(False, 0.0, {**detail, "apart": "far apart"})
    names = name_relation(new.names, old.names)
    if place == "same" and (_roundup(new) or _roundup(old)):
        place = "unknown"  # a summary of outages in many cities names this one too
    linked = place == "same" or (km is not None and km <= cfg.near_km) or (
        bool(new.ids) and _overlap(new.ids, old.ids)
    )
    same_sender = new.contact is not None and new.contact == old.contact
    if names == "different" and not linked and not same_sender and not town:
        return Verdict(False, 0.0, {**detail, "apart": "different names"})
    # Kinds of incident decide through the event rule below, not as shared words.
    text = topic_similarity(_words(new.topic), _words(old.topic))
    detail["text"] = round(text, 3)
    if same_sender:
        bar, detail["link"] = CONTACT_BAR, "same sender"
    elif linked:
        bar, detail["link"] = PLACE_BAR, "same place"
    elif names == "same" and not (_roundup(new) or _roundup(old)):
        bar, detail["link"] = (TEXT_BAR + PLACE_BAR) / 2, "same names"
    else:
        bar = TEXT_BAR
    if hours <= cfg.time_window_hours and _shared_event(new, old):
        if linked:
            # A flood, a fire, a power cut at one place within days is one incident,
            # however differently it is told.
            bar, detail["link"] = min(bar, EVENT_THRESHOLD), "same event, same place"
        elif place != "different" and names != "different" and _anchored(new, old):
            # ... and so is one told about one service or one named area ("KRL mogok",
            # "Medan gelap gulita"), unless the two name different places.
            bar, detail["link"] = min(bar, ANCHORED_EVENT_THRESHOLD), "same event, same name"
        elif town:
            bar, detail["link"] = min(bar, ANCHORED_EVENT_THRESHOLD), "same event, same town"
    if not linked and not town and (_unplaced_name(new, old) or _unplaced_name(old, new)
                       or (_unexplained(new, old) and _unexplained(old, new))
                       or _each_elsewhere(new, old)):
        bar += WEAK_NAME_PENALTY
        detail["weak_names"] = True
    if hours > cfg.time_window_hours:
        bar += LATE_PENALTY
    bonus = 0.1 if linked or same_sender else 0.05 if names == "same" else 0.0
    return Verdict(text >= bar, min(1.0, text + bonus), detail)


def town_and_regency(a: Iterable[Place], b: Iterable[Place]) -> bool:
    """"Kota Semarang" and "Kabupaten Semarang": one name, two governments (each with
    its own offices), whatever else the texts share."""
    kinds = {"kota", "kabupaten"}
    return any(p.kind in kinds and q.kind in kinds and p.kind != q.kind
               and p.name[:1] == q.name[:1] for p in a for q in b)


# The written rules and the model's features ask for one pair's similarity in turn.
@functools.lru_cache(maxsize=64)
def topic_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Weighted (rare words count more) and between Jaccard, which penalises a short
    tweet against a long letter, and containment (the tweet's words all occur in the
    letter); containment only counts once the shorter side has a few words, or two
    one-word texts would be equal."""
    if not a or not b:
        return 0.0
    shared = math.fsum(map(weight, a & b))
    rest_a, rest_b = a - b, b - a
    if rest_a and rest_b:
        shared += math.fsum(min(weight(x), weight(y)) for x, y in _fuzzy_pairs(rest_a, rest_b))
    total_a, total_b = _total_weight(a), _total_weight(b)
    small = min(total_a, total_b)
    shared = min(shared, small)
    jaccard = shared / (total_a + total_b - shared)
    containment = shared / small
    trust = min(1.0, (min(len(a), len(b)) - 1) / 4)
    return jaccard + trust * (containment - jaccard) / 2


def place_relation(a: Iterable[Place], b: Iterable[Place], lex: Lexicon | None = None) -> str:
    """"same" (a specific place, e.g. one hospital, named in both), "different"
    (places of one kind, none agreeing) or "unknown". A city, or a bare "di <name>",
    can tell two reports apart but is too large to say they are one incident."""
    lex = lex or default_lexicon()
    a, b = list(a), list(b)
    disagree = agreed = facilities = False
    for p in a:
        for q in b:
            if QUARTER in (p.kind, q.kind) or not _comparable(p.kind, q.kind, lex):
                continue
            if p.kind == "loc" or q.kind == "loc":
                agree = _contained(p.name, q.name) or _contained(q.name, p.name) or \
                    shortened(p.name, q.name) or shortened(q.name, p.name)
                if not agree and may_hold(p.name, q.name):
                    continue  # "di Brebes", "di Kluwut": the town may hold the village
            else:
                agree = names_agree(p.name, q.name)
            if not agree:
                disagree = True
                facilities = facilities or "loc" not in (p.kind, q.kind)
            elif _specific(p, q, lex):
                return "same"
            else:
                agreed = agreed or not (common_name(p.name) or common_name(q.name)
                                        or _regions(p, q, lex))
    # "di Klang" against "di Klang" and "Kec. Sakra" (the writer's home village): one
    # place agrees, the other is more than this report says. Two facilities of one
    # kind that differ (RSUD Pasar Rebo, RSUD Pasar Minggu) still do, and so do two
    # places in one town or regency ("di Jakarta": "di Kalibata", "di Cawang").
    return "different" if facilities or (disagree and not agreed) else "unknown"


def _regions(p: Place, q: Place, lex: Lexicon) -> bool:
    """Two towns, regencies or provinces by their type ("Kab. TTS")."""
    return {p.kind, q.kind} <= lex.broad_types and {p.kind, q.kind} != {"loc"}


def _specific(p: Place, q: Place, lex: Lexicon) -> bool:
    """Agreeing places that pin one incident down: not two cities; "di Ciputat" with
    "Kecamatan Ciputat" yes, "di Bandung" with "di Bandung" no (a city, perhaps)."""
    if p.kind == "loc" and q.kind == "loc":
        return min(len(p.name), len(q.name)) >= 2
    return p.kind not in lex.broad_types or q.kind not in lex.broad_types \
        if "loc" in (p.kind, q.kind) else \
        p.kind not in lex.broad_types and q.kind not in lex.broad_types


def _comparable(k1: str, k2: str, lex: Lexicon) -> bool:
    if k1 == k2:
        return True
    if k1 == "loc":
        return k2 in lex.area_types and k2 not in lex.broad_types
    if k2 == "loc":
        return k1 in lex.area_types and k1 not in lex.broad_types
    return False


def names_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One name is the start of the other: "sutomo" ~ "sutomo surabaya";
    "ahmad yani" ~ "a yani"; or occurs in it; a typo in a long word is forgiven."""
    if all(_word_eq(x, y) for x, y in zip(a, b, strict=False)):
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    # "katamso" ~ "brigjen katamso", "pondok kopi" ~ "islam pondok kopi"; a lone number
    # ("sd 3" ~ "sd 13 cibinong") is no evidence.
    return not all(w.isdigit() for w in short) and _contained(short, long) or \
        shortened(a, b) or shortened(b, a)  # "pasming" ~ "pasar minggu"


def _shared_event(a: Doc, b: Doc) -> bool:
    events = default_lexicon().events
    return bool(a.topic & b.topic & events)


# A stored report is compared with every new report of its incident: what depends on
# one signature alone is kept for the signatures in use (a frozenset keeps its hash).
TOPIC_CACHE = 512


@functools.lru_cache(maxsize=TOPIC_CACHE)
def _total_weight(words: frozenset[str]) -> float:
    return math.fsum(map(weight, words))


@functools.lru_cache(maxsize=TOPIC_CACHE)
def _words(topic: frozenset[str]) -> frozenset[str]:
    events = default_lexicon().events
    return frozenset(w for w in topic if not w.startswith("ev_") or w not in events)


def _anchored(a: Doc, b: Doc) -> bool:
    """Both name one thing (a proper name, or a service: PLN, KRL, PDAM), and neither
    names a place the other does not know: "PDAM di Bandar Selamat" and "PDAM di
    Waihaong" are two outages."""
    if _roundup(a) or _roundup(b):
        return False
    where_a, where_b = _where(a), _where(b)
    if where_a and where_b and not _overlap(where_a, where_b):
        return False
    if _place_unknown_to(a, b):
        return False  # "PPDB Jabar down" and "PPDB Kota Bandung juga error"
    if len(_unexplained_words(a, b)) >= 2 and len(_unexplained_words(b, a)) >= 2:
        return False  # one shared name among several each side: CASN site, SKCK site
    if _mentions_name(a, b):
        return True
    entities = default_lexicon().entities
    return bool((a.topic | a.names) & (b.topic | b.names) & entities)


def _where(doc: Doc) -> frozenset[str]:
    """Every word that may name a place: proper names, place names, unknown words."""
    return doc.names | doc.weak | {w for p in doc.places for w in p.name if not w.isdigit()}


def _unplaced_name(a: Doc, b: Doc) -> bool:
    """`a` names no place but has unknown words ("pamulang mati lampu"), `b` names a
    place none of them matches: perhaps the same words about another place."""
    if a.places or not a.weak or not b.places:
        return False
    known = {w for p in b.places for w in p.name} | b.names | b.weak | b.topic
    return not _overlap(a.weak, frozenset(known))


def _one_town(a: Doc, b: Doc) -> bool:
    """Both speak of one town (one names it as a town, "Kota Medan", the other
    mentions it), and no two specific facilities of one kind differ (RSUD Pasar Rebo
    and RSUD Pasar Minggu). A provider alone (PLN) is not enough: it serves many
    towns."""
    if _roundup(a) or _roundup(b) or _facilities_differ(a.places, b.places):
        return False
    lex = default_lexicon()
    return any(
        p.kind in lex.broad_types and p.kind != "loc"
        and _overlap(frozenset(p.name[:1]), frozenset(_where(y) | y.topic))
        for x, y in ((a, b), (b, a)) for p in x.places if not p.name[0].isdigit())


def _facilities_differ(a: Iterable[Place], b: Iterable[Place]) -> bool:
    lex = default_lexicon()
    a = [p for p in a if p.kind not in lex.broad_types and p.kind != QUARTER]
    b = [q for q in b if q.kind not in lex.broad_types and q.kind != QUARTER]
    return place_relation(a, b) == "different"


def _roundup(doc: Doc) -> bool:
    """A summary naming several towns or areas ("padam di Medan, Jayapura dan
    Ambon"): it shares a town with many incidents and is one of none of them."""
    lex = default_lexicon()
    towns = {p.name[0] for p in doc.places if p.kind in lex.broad_types}
    return len(towns) >= ROUNDUP_TOWNS


def _mentions_name(a: Doc, b: Doc) -> bool:
    """A name written in lower case in one text ("tebet timur") is a topic or unknown
    word there, a name in the other: both still name the same thing."""
    return _overlap(a.names, b.names | b.weak | b.topic) or \
        _overlap(b.names, a.names | a.weak | a.topic)


def _place_unknown_to(a: Doc, b: Doc) -> bool:
    """Both say where, and one names a place the other does not know."""
    return bool(_where(a) and _where(b)) and (_unnamed_place(a, b) or _unnamed_place(b, a))


def _unnamed_place(a: Doc, b: Doc) -> bool:
    """`a` names a place (a city, an office) of which `b` says nothing."""
    known = frozenset(_where(b) | b.topic)
    return any(not _overlap(frozenset(w for w in p.name if not w.isdigit()), known)
               for p in a.places if p.kind != QUARTER and any(not w.isdigit() for w in p.name))


def _other_quarter(a: Iterable[Place], b: Iterable[Place]) -> bool:
    """"Cimahi Selatan" and "Cimahi Tengah", "Jakarta Timur" and "Jakarta Barat": one
    name, two quarters of it."""
    quarters = {p.name[0]: p.name[1] for p in a if p.kind == QUARTER}
    return any(q.kind == QUARTER and q.name[0] in quarters and quarters[q.name[0]] != q.name[1]
               for q in b)


def _each_elsewhere(a: Doc, b: Doc) -> bool:
    """Each names something the other does not, and one of those is a specific place
    (a village, a market, a street): "Pantai Losari" and "Pasar Terong" of one city."""
    if not (_unexplained_words(a, b) and _unexplained_words(b, a)):
        return False
    broad = default_lexicon().broad_types
    return any(_unnamed_place(Doc(topic=x.topic, names=x.names, ids=x.ids, places=tuple(
        p for p in x.places if p.kind not in broad)), y) for x, y in ((a, b), (b, a)))


def _unexplained(a: Doc, b: Doc) -> bool:
    """`a` has unknown or proper words ("pamekasan") of which `b` says none: when both
    have such words, perhaps each names its own place ("kupang", "pamekasan")."""
    own = a.weak | a.names
    return bool(own) and len(_unexplained_words(a, b)) == len(own)


def _unexplained_words(a: Doc, b: Doc) -> list[str]:
    """`a`'s proper and unknown words that `b` does not use."""
    known = frozenset({w for p in b.places for w in p.name} | b.names | b.weak | b.topic)
    return _missing(a.weak | a.names, known)


def _contained(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`short` occurs in `long` as consecutive words: "bandung" in "sukajadi bandung"."""
    n = len(short)
    if n == 0:
        return True
    # Equal words start with one letter (`_word_eq`): only windows opening with the
    # first letter of `short` are compared word by word.
    first = short[0][0]
    return any(
        long[i][0] == first
        and all(_word_eq(x, y) for x, y in zip(short, long[i : i + n], strict=True))
        for i in range(len(long) - n + 1)
    )


def name_relation(a: frozenset[str], b: frozenset[str]) -> str:
    if not a or not b:
        return "unknown"
    if _overlap(a, b):
        return "same"
    return "unknown" if one_may_contain(a, b) else "different"


def _word_eq(x: str, y: str) -> bool:
    if x == y:
        return True
    if x[0] != y[0]:
        return False  # an initial, a typo and a shortening all keep the first letter
    if len(x) == 1 or len(y) == 1:
        return True  # an initial
    return _typo(x, y) or skeleton_of(x, y) or skeleton_of(y, x)  # "bjm" ~ "banjarmasin"
