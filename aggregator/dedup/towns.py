"""Whether one report's names may hold the other's: a town and a place in it.

"Antrean RS Cipto Mangunkusumo" and "pasien BPJS Jakarta numpuk" name no name in
common, yet the hospital is in the town. Without a gazetteer, how common a name is in
Indonesian text tells a town known nationwide (Jakarta, Mataram, Sleman, Bali) from a
neighbourhood, a village or a hospital (Klender, Tallo, Cipto Mangunkusumo). A short
abbreviation in common use (PMI, SPBU) names what, not where. Pure.
"""

from __future__ import annotations

import functools
import re

from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.weights import is_broad_name, is_common

NAMES_CACHE = 512  # a stored report's names are asked about with every new report


def one_may_contain(a: frozenset[str], b: frozenset[str]) -> bool:
    """One side names only towns or regions known nationwide, the other only places
    too small for that: the town may contain the place, so the names do not say two
    incidents. Two towns (Jakarta, Surabaya), or two small places (Klender, Cawang),
    do."""
    spelled_a, spelled_b = _spelled_out(a), _spelled_out(b)
    if spelled_a == a or spelled_b == b:
        # An abbreviation one side uses and the other does without ("PMI" against
        # "di Klang") says nothing; two different ones ("SKCK", "BKN") do.
        a, b = spelled_a, spelled_b
        if not a or not b:
            return True
    broad_a, broad_b = _broad(a), _broad(b)
    return (broad_a == a and not broad_b) or (broad_b == b and not broad_a)


@functools.lru_cache(maxsize=NAMES_CACHE)
def _spelled_out(names: frozenset[str]) -> frozenset[str]:
    """Without short abbreviations in common use (PMI, KBRI, UKT, SLB, SPBU): they say
    what or which service, not where. An abbreviation has letters no syllable of a
    name has side by side ("km", "kbri"); "Yani", "Bali" and "Solo" are names."""
    return frozenset(n for n in names
                     if len(n) > 4 or not _CLUSTER.search(n) or not is_common(n))


_CLUSTER = re.compile(r"[^aeiou]{2}")


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
