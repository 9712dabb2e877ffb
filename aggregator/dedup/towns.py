"""Whether one report's names may hold the other's: a town and a place in it.

"Antrean RS Cipto Mangunkusumo" and "pasien BPJS Jakarta numpuk" name no name in
common, yet the hospital is in the town. Without a gazetteer, how common a name is in
Indonesian text tells a town known nationwide (Jakarta, Mataram, Sleman, Bali) from a
neighbourhood, a village or a hospital (Klender, Tallo, Cipto Mangunkusumo). Pure.
"""

from __future__ import annotations

import functools

from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.weights import is_broad_name

NAMES_CACHE = 512  # a stored report's names are asked about with every new report


def one_may_contain(a: frozenset[str], b: frozenset[str]) -> bool:
    """One side names only towns or regions known nationwide, the other only places
    too small for that: the town may contain the place, so the names do not say two
    incidents. Two towns (Jakarta, Surabaya), or two small places (Klender, Cawang),
    do."""
    broad_a, broad_b = _broad(a), _broad(b)
    return (broad_a == a and not broad_b) or (broad_b == b and not broad_a)


def may_hold(p: tuple[str, ...], q: tuple[str, ...]) -> bool:
    """Of two place names, one is a town known nationwide and the other is not: "di
    Brebes" and "di Kluwut", "di Malaysia" and "di Klang" may be one place."""
    town_p, town_q = is_town(p), is_town(q)
    return town_p != town_q


def common_name(name: tuple[str, ...]) -> bool:
    """A place name with a word common in Indonesian text, a town's or a dictionary
    word's ("Bandung", "Malang"): too broad to say two reports are at one place."""
    return any(is_broad_name(w) for w in name if not w.isdigit())


def is_town(name: tuple[str, ...]) -> bool:
    """A place name made only of names known nationwide ("jakarta", "nusa tenggara")."""
    words = frozenset(w for w in name if not w.isdigit())
    return bool(words) and _broad(words) == words


@functools.lru_cache(maxsize=NAMES_CACHE)
def _broad(names: frozenset[str]) -> frozenset[str]:
    """The names known nationwide that are nothing but names: "Kota Bangun" (a ward)
    is common in text as the word "bangun", not as a town."""
    lex = default_lexicon()
    return frozenset(n for n in names if is_broad_name(n) and n not in lex.dictionary
                     and not lex.is_vocabulary(n))
