"""Typos between words and word sets: "antiran" ~ "antrian", "soetomo" ~ "sutomo".
Pure."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

FUZZY_MIN_LEN = 5
FUZZY_MAX_DIST = 0.15  # normalised edit distance for a typo ("antiran" ~ "antrian")
INDEXED = 24  # a word set this large (a long e-mail's) is indexed by first letter
MATRIX = 400  # word pairs worth comparing all at once, in C (`missing`)


def typo(x: str, y: str) -> bool:
    """A typo keeps the first letter and about the length ("antiran", "antrian")."""
    if x[0] != y[0] or abs(len(x) - len(y)) > 2 or min(len(x), len(y)) < FUZZY_MIN_LEN:
        return False
    if x.isdigit() or y.isdigit():
        return False
    if max(len(x), len(y)) * FUZZY_MAX_DIST < 1:
        return x == y  # too short for one edit within the bar
    return Levenshtein.normalized_distance(x, y, score_cutoff=FUZZY_MAX_DIST) <= FUZZY_MAX_DIST


def overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a.isdisjoint(b):
        return True
    # Only words of one first letter and some length can be typos of each other.
    long_a = [x for x in a if len(x) >= FUZZY_MIN_LEN]
    if not long_a:
        return False
    if len(b) < INDEXED:
        firsts = {x[0] for x in long_a}
        return any(typo(x, y) for y in b if len(y) >= FUZZY_MIN_LEN and y[0] in firsts
                   for x in long_a)
    by_first = _by_first(b)
    return any(typo(x, y) for x in long_a for y in by_first.get(x[0], ()))


@functools.lru_cache(maxsize=512)
def _by_first(words: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """The words that may be typos of others, by first letter. Cached: one report's
    vocabulary is asked about word by word, and against each candidate in turn."""
    out: dict[str, list[str]] = {}
    for w in words:
        if len(w) >= FUZZY_MIN_LEN:
            out.setdefault(w[0], []).append(w)
    return {k: tuple(v) for k, v in out.items()}


def fuzzy_pairs(a: frozenset[str], b: frozenset[str]) -> list[tuple[str, str]]:
    """Typo pairs between two word sets; words are bucketed by first letter, which a
    typo keeps, so most pairs are never compared. Taken in sorted order: a set's order
    follows the process's hash seed, and two replicas must pair words alike."""
    by_first: dict[str, list[str]] = {}
    for y in sorted(b):
        if len(y) >= FUZZY_MIN_LEN and not y.isdigit():
            by_first.setdefault(y[0], []).append(y)
    if not by_first:
        return []
    used: set[str] = set()
    pairs = []
    for x in sorted(a):
        if len(x) < FUZZY_MIN_LEN or x.isdigit():
            continue
        for y in by_first.get(x[0], ()):
            if y not in used and abs(len(x) - len(y)) <= 2 \
                    and Levenshtein.normalized_distance(x, y) <= FUZZY_MAX_DIST:
                used.add(y)
                pairs.append((x, y))
                break
    return pairs


def missing(words: Iterable[str], known: frozenset[str]) -> list[str]:
    """The words that are neither in `known` nor a typo of one of its words. A long
    mail naming dozens of streets against another: every pair is compared at once by
    rapidfuzz (in C), and `typo` looks only at the few pairs close enough."""
    rest = [w for w in words if w not in known]
    if not rest:
        return rest
    if len(rest) * len(known) < MATRIX:
        return [w for w in rest if not overlap(frozenset((w,)), known)]
    long_rest = [w for w in rest if len(w) >= FUZZY_MIN_LEN]
    long_known = [y for y in known if len(y) >= FUZZY_MIN_LEN]
    if not long_rest or not long_known:
        return rest
    bar = FUZZY_MAX_DIST + 1e-6  # float32 rounding; `typo` decides each pair exactly
    close = process.cdist(long_rest, long_known, scorer=Levenshtein.normalized_distance,
                          score_cutoff=bar, dtype=np.float32)
    found = {long_rest[i] for i, j in zip(*np.nonzero(close <= bar), strict=True)
             if typo(long_rest[i], long_known[j])}
    return [w for w in rest if w not in found]
