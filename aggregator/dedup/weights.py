"""How much a shared word says: rare words ("antri", "eskalator") more than common
ones ("sistem", "rusak").

Weights come from word frequencies in real Indonesian and English text (wordfreq's
Zipf scale, 7 = "yang", 3 = a word seen once per million): weight = 7 - zipf, kept
within [1, 3]. A static table keeps the matcher's verdicts the same on every replica
and after restarts, unlike frequencies counted from our own stored reports.
"""

from __future__ import annotations

import functools
import re

from aggregator.dedup.lexicon import default_lexicon

TOP_ZIPF = 7.0
MIN_WEIGHT = 1.0
MAX_WEIGHT = 3.0
ENGLISH_MIN_ZIPF = 3.0
LOANWORD_MIN_ZIPF = 3.5


# A name this common in Indonesian text (Jakarta 5.9, Sleman 4.2, Mataram 4.3; not
# Klender 3.2, Tallo or Rungkut, in no list) is known nationwide: a city, a regency, a
# province, a large campus. It may contain the place another report names.
BROAD_NAME_ZIPF = 4.0
UNKNOWN_WEIGHT = 2.0  # in no frequency list: a typo, slang or a joined token
COMMON_ZIPF = 3.0  # a word seen at least once per million words of Indonesian text

# Distinct words remembered per table. Word use is Zipfian: a few thousand words make
# most of any inbox, and a miss costs one frequency lookup. Numbers, names and typos
# never stop coming, so a table as large as a year's vocabulary (100,000 words, some
# 30 MB here and in wordfreq's own cache) kept growing for weeks under steady load.
WORD_CACHE = 16_384


def weight(word: str) -> float:
    lexicon = default_lexicon().weights
    if word.isdigit() and word not in lexicon:
        return MIN_WEIGHT  # numbers are endless and cost nothing to weigh: not cached
    return _weight(word)


@functools.lru_cache(maxsize=WORD_CACHE)
def _weight(word: str) -> float:
    fixed = default_lexicon().weights.get(word)
    if fixed is not None:
        return fixed
    if word.isdigit():
        return MIN_WEIGHT
    zipf = max(_zipf(word, "id"), _zipf(word, "en"))
    if zipf == 0:
        return UNKNOWN_WEIGHT
    return min(MAX_WEIGHT, max(MIN_WEIGHT, TOP_ZIPF - zipf))


@functools.lru_cache(maxsize=WORD_CACHE)
def is_broad_name(word: str) -> bool:
    """A name common in Indonesian text: a city or a region, not a neighbourhood."""
    return _zipf(word, "id") >= BROAD_NAME_ZIPF


@functools.lru_cache(maxsize=WORD_CACHE)
def is_common(word: str) -> bool:
    """A word (or an abbreviation) in common use in Indonesian text."""
    return _zipf(word, "id") >= COMMON_ZIPF


@functools.lru_cache(maxsize=WORD_CACHE)
def is_english(word: str) -> bool:
    """A common English word that is not also an Indonesian one."""
    en = _zipf(word, "en")
    return en >= ENGLISH_MIN_ZIPF and en > _zipf(word, "id") + 1.0


def _zipf(word: str, lang: str) -> float:
    import wordfreq

    # Our tables above remember the answers; wordfreq's own cache (100,000 entries,
    # then emptied) would hold every word a second time.
    wordfreq.CACHE_SIZE = min(wordfreq.CACHE_SIZE, 2 * WORD_CACHE)
    if _PLAIN.fullmatch(word) and word not in _frequencies(lang):
        # A plain word is its own only token, and one missing from the list is 0:
        # wordfreq's answer, without its tokenizer (~60 us a word). Names, typos and
        # slang are such words, and each new one is looked up in two languages.
        return 0.0
    return float(wordfreq.zipf_frequency(word, lang))


_PLAIN = re.compile(r"[a-z]+")


def load_tables() -> None:
    """Read both frequency tables now (~0.5 s: wordfreq's import and its gzip+msgpack
    files), not when the first report is weighed, on the event loop."""
    for lang in ("id", "en"):
        _frequencies(lang)


@functools.cache
def _frequencies(lang: str) -> dict[str, float]:
    import wordfreq

    frequencies: dict[str, float] = wordfreq.get_frequency_dict(lang, "best")
    return frequencies  # wordfreq's own table (it keeps it too): no copy


@functools.lru_cache(maxsize=WORD_CACHE)
def is_loanword(word: str) -> bool:
    """A common English word, though Indonesians use it too (server, loading, chaos):
    vocabulary, not a place name written in lower case."""
    en = _zipf(word, "en")
    return en >= LOANWORD_MIN_ZIPF and en >= _zipf(word, "id")
