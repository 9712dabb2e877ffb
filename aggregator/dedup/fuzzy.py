"""Typos between words and word sets: "antiran" ~ "antrian", "soetomo" ~ "sutomo".
Pure."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

FUZZY_MIN_LEN = 5
FUZZY_MAX_DIST = 0.15  # normalised edit distance for a typo ("antiran" ~ "antrian")


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
    if a & b:
        return True
    # Only words of one first letter and some length can be typos of each other.
    firsts = {x[0] for x in a if len(x) >= FUZZY_MIN_LEN}
    return bool(firsts) and any(
        typo(x, y) for y in b if len(y) >= FUZZY_MIN_LEN and y[0] in firsts for x in a)


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
