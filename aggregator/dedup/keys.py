"""Candidate keys of a signature: what goes into the `dedup_keys` index.

- MinHash LSH band keys over the signature's features (topic stems, names, places):
  two reports whose feature sets have Jaccard similarity J share at least one of
  BANDS keys with probability 1 - (1 - J^ROWS)^BANDS (J=0.3: 84 %, J=0.5: 99.6 %).
  Candidates are then verified by `similarity.compare`, so the index errs on the side
  of finding too many.
- one key per named place (kind + first word of the name): a short tweet and a long
  letter about one hospital share little text but the hospital;
- one key per location cell (about 1.1 km; a lookup asks the 3x3 cells around);
- one key per sender contact (same person, different channels);
- one key per name or unknown word (up to WORD_KEYS, `word_keys`): "Tebet" in a
  tweet and "tebet" in a chat share nothing else often enough for a band key.
- one key per kind of incident and window of EVENT_HOURS (`event_keys`); a lookup
  asks the windows before and after too;
- one key per rare topic word (up to TOPIC_KEYS) and day (`topic_keys`).
All keys are 64-bit hashes, stable across processes and versions (blake2b, fixed
seeds): they are stored, so changing BANDS/ROWS or the hashing needs a re-index.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable

import numpy as np

from aggregator.dedup.features import QUARTER, Doc, Place
from aggregator.dedup.lexicon import default_lexicon
from aggregator.dedup.towns import common_name
from aggregator.dedup.weights import is_broad_name, is_common, weight

BANDS = 20
ROWS = 2
NUM_PERM = BANDS * ROWS
_PRIME = np.uint64(4294967291)  # largest prime below 2**32
_rng = np.random.default_rng(20260101)
_A = _rng.integers(1, 2**31 - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, 2**31 - 1, size=NUM_PERM, dtype=np.uint64)
_BAND_SALT = np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
GEO_CELL_DEG = 0.01
WORD_KEYS = 8  # name keys per report
EVENT_HOURS = 6
TOPIC_KEYS = 5  # rare topic words keyed per report
TOPIC_MIN_WEIGHT = 2.0  # Zipf 5 or rarer: "antri" yes, "rusak" no
INDEX_KEYS_CACHE = 512  # two batches (see index_keys)


def key_of(text: str) -> int:
    """A signed 64-bit key for a string (fits BIGINT on both databases)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big",
                          signed=True)


# Features include names, unbounded vocabulary: a miss costs one short blake2b, an
# entry ~200 bytes, so the cache holds the frequent features, not every name seen.
@functools.lru_cache(maxsize=16_384)
def _hash32(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits of each uint64 over all 64."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def minhash(features: Iterable[str]) -> np.ndarray | None:
    values = np.fromiter((_hash32(f) for f in features), dtype=np.uint64)
    if values.size == 0:
        return None
    # (a * x + b) mod p for every permutation and feature: a < 2**31, x < 2**32.
    table = (_A[:, None] * values[None, :] + _B[:, None]) % _PRIME
    return table.min(axis=1)


def band_keys(doc: Doc) -> list[int]:
    return _bands(doc.features())


def _bands(features: Iterable[str]) -> list[int]:
    sig = minhash(features)
    if sig is None:
        return []
    rows = sig.reshape(BANDS, ROWS)  # ROWS == 2: two 32-bit values per band
    packed = (rows[:, 0] << np.uint64(32)) | rows[:, 1]
    keys = _mix64(packed ^ _mix64(_BAND_SALT))
    return [int(k) for k in keys.view(np.int64)]


# A report's keys are needed by prepare, prefetch, find and index: within one batch
# (at most `Ingestor.max_batch`, 256), the next batch being prepared meanwhile. The
# cache key is the whole signature (~3 KB): a larger cache only holds the signatures
# of reports stored long ago, and grows the process by ~3.5 KB a report until full.
@functools.lru_cache(maxsize=INDEX_KEYS_CACHE)
def index_keys(doc: Doc) -> list[int]:
    """The keys stored for a report (do not modify the returned list)."""
    keys = band_keys(doc)
    keys += [key_of(f"p:{p.key()}") for p in _keyed_places(doc)]
    keys += [key_of(f"w:{w}") for w in word_keys(doc)]
    keys += event_keys(doc, (0,))
    keys += service_keys(doc, (0,))
    keys += topic_keys(doc, (0,))
    if doc.lat is not None and doc.lon is not None:
        keys.append(key_of(f"g:{_cell(doc.lat, doc.lon)}"))
    if doc.contact:
        keys.append(key_of(f"c:{doc.contact}"))
    return list(dict.fromkeys(keys))


def lock_keys(doc: Doc) -> list[int]:
    """The specific keys of a report (text bands, places, names, contact): what two
    reports of one incident share, and unrelated reports seldom do. Concurrent ingests
    on PostgreSQL serialise on these (see `store.lock`); the keys are not stored, so
    they may differ from the index's. A town or region ("Kota Bekasi", "bekasi") is
    left out, like the other broad keys (a kind of incident this afternoon, a map
    cell): a city's agency hears its city named in nearly every report, and its
    replicas would take turns on it. So are the text bands it would dominate: two short
    reports naming the city share most of their features."""
    towns = default_lexicon().broad_types
    wide = {p for p in doc.places if p.kind in towns or common_name(p.name)}
    wide_words = {w for w in doc.names if _wide_word(w)}
    wide_keys = {p.key() for p in wide}
    features = {f for f in doc.features()
                if f.removeprefix("~") not in wide_words and f not in wide_keys}
    keys = _bands(features)
    keys += [key_of(f"p:{p.key()}") for p in _keyed_places(doc) if p not in wide]
    keys += [key_of(f"w:{w}") for w in word_keys(doc) if not _wide_word(w)]
    if doc.contact:
        keys.append(key_of(f"c:{doc.contact}"))
    return list(dict.fromkeys(keys))


def _keyed_places(doc: Doc) -> list[Place]:
    """The places that get a key: named (not by an initial) and not a quarter."""
    return [p for p in doc.places if len(p.name[0]) > 1 and p.kind != QUARTER]


def _wide_word(word: str) -> bool:
    """A town's or region's name, or a word common in text: too broad to lock on."""
    return is_broad_name(word) or is_common(word)


def word_keys(doc: Doc) -> list[str]:
    """The words that may name where or what the report is about: proper names and
    unknown words ("Tebet", "ptsl"), rarest first. A tweet and a letter about one
    incident often share only these, too few words for a shared band key; a name
    written in lower case in one text is an unknown word there, so both share one key
    space."""
    words = {w for w in doc.names | doc.weak if len(w) >= 3 and not w.isdigit()}
    return sorted(words, key=lambda w: (-weight(w), w))[:WORD_KEYS]


def event_keys(doc: Doc, buckets: tuple[int, ...]) -> list[int]:
    """Kind of incident + a window of EVENT_HOURS (by the report's own time): "PLN mati
    lagi" names nothing, and finds the reports of the power cut sent in the same hours.
    The window bounds the key: every power cut of a month would share a bare one."""
    return _in_window("e", sorted(doc.topic & default_lexicon().events), doc, buckets)


def service_keys(doc: Doc, buckets: tuple[int, ...]) -> list[int]:
    """A service or operator (PLN, KRL, BPJS; `lexicon.entities`) + a window of
    EVENT_HOURS: in a viral moment many posts name only the service and no kind of
    incident ("ya allah krl lagi krl lagi", "kartu yg udah tap in bisa refund?"), and
    share no other key with the reports of it."""
    return _in_window("s", sorted((doc.topic | doc.names) & _services()), doc, buckets)


def _in_window(kind: str, words: list[str], doc: Doc, buckets: tuple[int, ...]
               ) -> list[int]:
    """Each word + the EVENT_HOURS window the report was sent in, moved by `buckets`."""
    if not words or not doc.at:
        return []
    now = math.floor(doc.at / (EVENT_HOURS * 3600))
    return [key_of(f"{kind}:{w}:{now + d}") for w in words for d in buckets]


@functools.cache
def _services() -> frozenset[str]:
    """The entities as the topic holds them (KRL is "kereta" there) and as names."""
    lex = default_lexicon()
    return frozenset(w for e in lex.entities for w in (e, *lex.replace.get((e,), ())))


def topic_keys(doc: Doc, buckets: tuple[int, ...]) -> list[int]:
    """The TOPIC_KEYS rarest words of what is wrong ("sscasn", "koordinat", "ptsl") + the
    day (by the report's own time): a slang chat and a formal letter about one incident
    often share one such word and nothing a band key or a name key sees. The day bounds
    the key, as for `event_keys`; a lookup asks the days before and after too."""
    if not doc.at:
        return []
    day = math.floor(doc.at / 86400)
    return [key_of(f"t:{w}:{day + d}") for w in _rare_topic(doc.topic) for d in buckets]


# Asked for by the index, the lookup and the lock of each report; a frozenset keeps
# its hash, so a hit costs one dictionary lookup.
@functools.lru_cache(maxsize=INDEX_KEYS_CACHE)
def _rare_topic(topic: frozenset[str]) -> tuple[str, ...]:
    words = [w for w in topic if not w.startswith("ev_") and len(w) >= 3
             and not w.isdigit() and weight(w) >= TOPIC_MIN_WEIGHT]
    return tuple(sorted(words, key=lambda w: (-weight(w), w))[:TOPIC_KEYS])


def query_keys(doc: Doc) -> list[int]:
    """The keys to look up for a new report: as stored, plus the neighbouring cells."""
    keys = list(index_keys(doc))
    keys += event_keys(doc, (-1, 1))
    keys += service_keys(doc, (-1, 1))
    keys += topic_keys(doc, (-1, 1))
    if doc.lat is not None and doc.lon is not None:
        y, x = _cell(doc.lat, doc.lon)
        keys += [key_of(f"g:{(y + dy, x + dx)}") for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if dy or dx]
    return list(dict.fromkeys(keys))


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / GEO_CELL_DEG), math.floor(lon / GEO_CELL_DEG)
