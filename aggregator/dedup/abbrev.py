"""Place names as people shorten them. Pure, no I/O.

A viral incident at one facility is told in many hands, and each writes the name its
own way: the letter "RSUD Pasar Minggu", the tweet "RSUD Pasming" or "RSUD PM", the
chat "samsat medsel", "RSUD Ulin Bjm", "RSUD Tugurejo" for "Tugu Rejo". Compared word
by word, these are two places, which is a certain "no" (`similarity.place_relation`),
and one such "no" keeps a whole ticket from every later report. The shortenings follow
a few rules of Indonesian writing, not a list of names:
- a contraction: the first letters or syllables of each word, run together
  ("pasar minggu" -> "pm", "pasming"; "medan selatan" -> "medsel"), or the words
  written as one ("tugu rejo" -> "tugurejo");
- a consonant skeleton of one word, as in chat ("banjarmasin" -> "bjm",
  "makassar" -> "mks").
Both keep the first letter and the order of what they keep, so two different names
seldom pass for one another; a lone initial or a number is never taken for a name.
"""

from __future__ import annotations

import functools

VOWELS = frozenset("aeiou")
SKELETON_MIN = 3  # "bjm"; two consonants ("bm") could shorten too many words


def shortened(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`short` is `long` with its leading words contracted into one ("medsel beneran"
    ~ "medan selatan"; "tugurejo semarang" ~ "tugu rejo"); what follows, word by word,
    must be equal or cut short."""
    if not short or not long or len(long) < 2:
        return False
    head = short[0]
    if not head.isalpha() or len(head) < 2 or head[0] != long[0][0]:
        # Initials and a contraction both start with the first letter of `long`: most
        # pairs of names differ there, and are told apart without trying each length.
        return False
    for k in range(len(long), 1, -1):
        words = long[:k]
        if head == "".join(w[0] for w in words) or _contraction(head, words):
            rest_short, rest_long = short[1:], long[k:]
            return all(x == y or skeleton_of(x, y) or skeleton_of(y, x)
                       for x, y in zip(rest_short, rest_long, strict=False))
    return False


@functools.lru_cache(maxsize=4096)
def _contraction(word: str, words: tuple[str, ...]) -> bool:
    """`word` is a start of two letters or more of each of `words`, in order, run
    together ("pas" + "ming"); one letter of a word only in initials ("pm"), or
    "pasar" would be "pasa" + "r(ebo)"."""
    if not words:
        return not word
    first, rest = words[0], words[1:]
    if not first.isalpha():
        return False
    for n in range(min(len(first), len(word)), 1, -1):
        if word[:n] == first[:n] and (rest or n == len(word)) and \
                _contraction(word[n:], rest):
            return True
    return False


def skeleton_of(short: str, word: str) -> bool:
    """`short` is consonants of `word`, its first letter first, in order: "bjm" of
    "banjarmasin"."""
    if len(short) < SKELETON_MIN or len(word) < len(short) + 2 or short[0] != word[0]:
        return False
    if not short.isalpha() or VOWELS & set(short):
        return False
    it = iter(word[1:])
    return all(c in it for c in short[1:])
