"""What the matcher knows about one report: its signature.

From the normalised tokens it keeps what tells two problems apart:
- `topic`: stems of the words that say what is wrong (antri, mesin, rusak);
- `names`: proper names (words no dictionary knows: Soetomo, Ciputat, Summarecon);
- `places`: named places, a place-type word and the name after it
  (("rs", ("sutomo",)), ("sd", ("3", "cibinong")));
- `ids`: long numbers (card, NIK, phone numbers): personal cases;
- location, a hashed contact (same person on two channels), and the time.
Signatures are stored, so candidates are verified without re-reading their text.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.dedup.lexicon import Lexicon, default_lexicon
from aggregator.dedup.normalize import Token, modern_spelling, tokenize
from aggregator.dedup.weights import MIN_WEIGHT, is_english, is_loanword, weight
from aggregator.domain import Author

MAX_NAME = 4
QUARTER = "quarter"  # the place kind of "<name> <direction>": Cimahi Selatan
_DIRECTIONS = frozenset({"utara", "selatan", "timur", "barat", "tengah"})
# The topic mark of a report whose writer says it is another incident than the one
# everyone speaks of ([disclaimers] of the lexicon); no word is written so.
ANOTHER = "!lain"
MAX_TEXT = 4000  # a long e-mail says what it is about early on
# "bukan cuma di Angkasa", "kyk di Ampenan", "beda ga sm yg di Pluit", "sama kayak
# Kebayoran Baru": a place named to compare with is not where the report happened.
_COMPARED = frozenset({"kayak", "kyk", "kek", "seperti", "spt", "beda", "berbeda",
                       "bukan", "selain"})
COMPARE_REACH = 5  # words from the comparing word to the "di" of the other place
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A lower-case word shaped like a derived Indonesian word (pemberitahuan, dilaporin)
# that the stemmer could not reduce: unknown, but not evidence of a different place.
_AFFIXED = re.compile(r"^(?:me|mem|men|meng|meny|pe|pem|pen|peng|di|ber|ter|ke|se)\w{3,}"
                      r"(?:kan|an|i|nya|in)$")


@dataclass(frozen=True, slots=True)
class Place:
    kind: str
    name: tuple[str, ...]

    def key(self) -> str:
        return f"{self.kind}:{self.name[0]}"

    def dump(self) -> str:
        return f"{self.kind}:{' '.join(self.name)}"

    @classmethod
    def load(cls, raw: str) -> Place:
        kind, _, name = raw.partition(":")
        return cls(kind, tuple(name.split()))


@dataclass(frozen=True, slots=True)
class Doc:
    topic: frozenset[str]
    names: frozenset[str]
    places: tuple[Place, ...]
    ids: frozenset[str]
    weak: frozenset[str] = frozenset()  # unknown lower-case words: names, or typos
    lat: float | None = None
    lon: float | None = None
    contact: str | None = None
    at: float = 0.0  # seconds since the epoch

    def features(self) -> set[str]:
        """The set MinHash summarises. The commonest words ("rusak") are left out: a
        band key made of them would be shared by a large share of all reports and
        every lookup would have to count them."""
        return {*(w for w in self.topic if weight(w) > MIN_WEIGHT),
                *(f"~{n}" for n in self.names), *(p.key() for p in self.places)}


def extract(
    text: str,
    *,
    title: str | None = None,
    author: Author | None = None,
    meta: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    lexicon: Lexicon | None = None,
) -> Doc:
    lex = lexicon or default_lexicon()
    full = f"{title}\n{text}" if title and title.strip() not in text else text
    address = _address(meta or {})
    if address:
        full = f"{full}\n{address}"  # "Jl. Ahmad Yani No. 5, Bekasi" names the place
    tokens = _without_compared(tokenize(full[:MAX_TEXT], lex), lex)
    places, in_place = _places(tokens, lex)
    in_place |= _writer_name(tokens, lex)  # never a place, a name or a topic word
    topic: set[str] = set()
    names: set[str] = {n for p in places if p.kind != QUARTER for n in p.name
                       if not n.isdigit()}
    ids: set[str] = set()
    weak: set[str] = set()
    firsts = {t.seg: i for i, t in reversed(list(enumerate(tokens)))}
    for i, tok in enumerate(tokens):
        word = tok.text
        if word.isdigit():
            if len(word) >= 8:
                ids.add(word)
            continue
        if (len(word) < 2 or word in lex.stopwords or word in lex.generic
                or tok.stem in lex.generic or tok.stem in lex.stopwords
                or word in lex.place_types or word in lex.qualifiers
                or word in lex.honorifics):
            continue
        if i in in_place:
            continue
        if _is_name(tok, lex):
            if tok.cased and firsts[tok.seg] != i:
                names.add(modern_spelling(word))  # capitalised mid-sentence: a name
                continue
            if _AFFIXED.match(word):
                continue  # a derived word the stemmer did not know: noise
            if len(word) >= 5 and not is_loanword(word):
                weak.add(modern_spelling(word))  # perhaps a name written in lower case
        topic.add(tok.stem)
    topic |= lex.event_tokens(topic)
    if _says(tokens, lex.disclaimers):
        topic.add(ANOTHER)
    lat, lon = location(meta or {})
    return Doc(
        topic=frozenset(topic), names=frozenset(names), places=tuple(places),
        ids=frozenset(ids), weak=frozenset(weak), lat=lat, lon=lon, contact=contact_hash(author),
        at=at.timestamp() if at else 0.0,
    )


# "Saya Anastasia Widyaningrum, dosen ...", "Bersama ini saya, Nurhayati Lubis",
# "Saya yang bertanda tangan di bawah ini, Ahmad Fauzan", "Kulo Sriyatmi" (Javanese),
# "Penelepon a.n. Made Suparta": the writer introduces themself. Each writer of one
# incident has their own name, so it would say "different names" between any two of
# their reports; the name is not where or what happened. "Istri saya, Nurhayati"
# names someone else (the one the complaint is about): a "saya" after another word
# than these does not open the writer's name.
_SELF = frozenset({"saya", "kulo"})
_SELF_AFTER = frozenset({"ini", "perkenalkan", "kenalkan", "nama", "hormat"})
_ON_BEHALF = (("a", "n"), ("atas", "nama"))
_ON_BEHALF_FIRST = frozenset(p[0] for p in _ON_BEHALF)
_SIGNED = ("yang", "bertanda", "tangan", "di", "bawah", "ini")


def _writer_name(tokens: list[Token], lex: Lexicon) -> set[int]:
    """Positions of the words of the writer's own name, where they introduce themself."""
    own: set[int] = set()
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i and tokens[i - 1].seg == tok.seg else None
        if tok.text in _SELF or tok.raw in _SELF:
            if prev is not None and prev.text not in _SELF_AFTER:
                continue
            start = i + 1
            if tuple(t.text for t in tokens[start:start + len(_SIGNED)]) == _SIGNED:
                start += len(_SIGNED)
        elif tok.text in _ON_BEHALF_FIRST and any(
                tuple(t.text for t in tokens[i:i + len(p)]) == p for p in _ON_BEHALF):
            start = i + 2
        else:
            continue
        if start >= len(tokens) or (tokens[start].seg != tok.seg and
                                    tokens[start - 1].seg != tokens[start].seg - 1):
            continue
        seg = tokens[start].seg
        name: list[int] = []
        for j in range(start, min(len(tokens), start + MAX_NAME)):
            t = tokens[j]
            if t.seg != seg or not t.cased:
                break
            if t.text in lex.honorifics:
                continue
            if t.text in lex.stopwords or t.text in lex.place_types or (
                    name and lex.is_vocabulary(t.text)):
                break  # "Saya Budi Santoso, Warga Tebet"; "Saya Budi Warga Tebet"
            name.append(j)
        # "Budi Santoso": a name may open with a dictionary word, but one at least is
        # none ("Saya Warga Kelurahan Tebet" is no name).
        if any(_is_name(tokens[j], lex) for j in name):
            own.update(name)
    return own


def _says(tokens: list[Token], phrases: tuple[tuple[str, ...], ...]) -> bool:
    """One of the phrases occurs in the text, word for word."""
    words = [t.text for t in tokens]
    opening = _by_first_word(phrases)
    return any(tuple(words[i:i + len(p)]) == p
               for i, w in enumerate(words) if w in opening for p in opening[w])


@functools.lru_cache(maxsize=8)
def _by_first_word(phrases: tuple[tuple[str, ...], ...]) -> dict[str, list[tuple[str, ...]]]:
    """One pass over the text instead of one per phrase."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for p in phrases:
        if p:
            out.setdefault(p[0], []).append(p)
    return out


def _is_name(tok: Token, lex: Lexicon) -> bool:
    word = tok.text
    return (
        len(word) >= 3 and word.isalpha() and not lex.is_vocabulary(word)
        and tok.stem not in lex.dictionary and (tok.cased or not is_english(word))
    )


def _cased_segments(tokens: list[Token]) -> set[int]:
    """Mixed-case segments: a word other than the segment's first is capitalised."""
    firsts = {t.seg: i for i, t in reversed(list(enumerate(tokens)))}
    return {t.seg for i, t in enumerate(tokens)
            if t.cased and t.text.isalpha() and firsts[t.seg] != i}


def _without_compared(tokens: list[Token], lex: Lexicon) -> list[Token]:
    """The tokens without the places a report names only to compare with: "air di
    Cakranegara juga mati, bukan pipa pecah kyk di Ampenan" happened in Cakranegara;
    Ampenan, kept, would make it a match for the pipe burst there (and "different
    places" against the report's own neighbours). The name after a "di" within
    COMPARE_REACH words of a comparing word, or right after it, is dropped."""
    if not any(t.text in _COMPARED for t in tokens):
        return tokens
    cased_segments = _cased_segments(tokens)
    drop: set[int] = set()
    for i, tok in enumerate(tokens):
        if tok.text not in _COMPARED:
            continue
        cased = tok.seg in cased_segments
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if after is not None and after.seg == tok.seg and after.cased and _is_name(after, lex):
            start = i  # "sama kayak Kebayoran Baru"
        else:
            start = next((j for j in range(i + 1, min(len(tokens), i + 1 + COMPARE_REACH))
                          if tokens[j].seg == tok.seg and tokens[j].text in lex.locatives), -1)
            if start < 0 or tokens[start].seg != tok.seg:
                continue
        name = _name_after(tokens, start, lex, cased, first_may_be_type=False)
        if name and (_is_name(name[0][1], lex) or name[0][1].cased):
            drop.update(j for j, _ in name)
            drop.add(start)  # the "di" (or the comparing word) goes too
    return [t for j, t in enumerate(tokens) if j not in drop] if drop else tokens


def _places(tokens: list[Token], lex: Lexicon) -> tuple[list[Place], set[int]]:
    """Named places: a place type followed by its name. In a mixed-case segment the
    name is the capitalised words; in an all-lower-case one it is the next words up to
    the last one no dictionary knows (a name made only of ordinary words, like "tanah
    abang" in lower case, cannot be told from the sentence and is left out). A name
    right after "di"/"ke"/"dekat" is where it happened (kind "loc")."""
    cased_segments = _cased_segments(tokens)
    found: list[Place] = []
    used: set[int] = set()
    for i, tok in enumerate(tokens):
        cased = tok.seg in cased_segments
        if tok.text in lex.place_types:
            kind = tok.text
            if tok.raw in lex.place_types_after:
                name = _name_before(tokens, i, lex) if cased else []
            else:
                name = _name_after(tokens, i, lex, cased, first_may_be_type=True)
        elif tok.text in lex.locatives:
            kind = "loc"
            name = _name_after(tokens, i, lex, cased, first_may_be_type=False)
            # "di 06.20", "di 20 menit": a time or an amount, not a place.
            if name and (name[0][1].text.isdigit() or not any(
                _is_name(t, lex) or (cased and t.cased) for _, t in name[:1]
            )):
                name = []
        else:
            continue
        if kind == "loc":
            while name and name[-1][1].text.isdigit():
                name.pop()  # "di Klender Baru 30 menit"
        if not name:
            continue
        words = tuple(_name_word(t.text) for _, t in name)
        found.append(Place(kind, words))
        used.update(j for j, _ in name)
    quarters = [Place(QUARTER, (_name_word(t.text), d.text))
                for t, d in zip(tokens, tokens[1:], strict=False)
                if d.text in _DIRECTIONS and d.seg == t.seg and t.text.isalpha()
                and len(t.text) >= 4 and t.text not in _DIRECTIONS
                and not lex.is_vocabulary(t.text)]
    return _dedupe(found)[:6] + _dedupe(quarters)[:2], used


def _name_after(
    tokens: list[Token], i: int, lex: Lexicon, cased: bool, *, first_may_be_type: bool
) -> list[tuple[int, Token]]:
    seg = tokens[i].seg
    name: list[tuple[int, Token]] = []
    for j in range(i + 1, min(len(tokens), i + 9)):
        nxt = tokens[j]
        word = nxt.text
        if nxt.seg != seg or len(name) >= MAX_NAME:
            break
        if word in lex.qualifiers or word in lex.honorifics:
            continue
        if word in lex.place_types and (name or not first_may_be_type):
            break
        if word in lex.stopwords or (lex.is_topic_word(word) and word not in lex.place_types):
            break  # a place type may open the name: Dukcapil *Kabupaten* Bogor
        if cased:
            if not nxt.cased:
                break
        elif word in lex.generic or nxt.stem in lex.generic:
            break
        name.append((j, nxt))
    if not cased and not (len(name) >= 2 and tokens[i].text in lex.area_types
                          and tokens[i].text not in lex.broad_types):
        while name and not (name[-1][1].text.isdigit() or _is_name(name[-1][1], lex)):
            name.pop()
    return name


def _name_before(tokens: list[Token], i: int, lex: Lexicon) -> list[tuple[int, Token]]:
    """English order, "Ngurah Rai airport": the capitalised words just before."""
    seg = tokens[i].seg
    name: list[tuple[int, Token]] = []
    for j in range(i - 1, max(-1, i - 6), -1):
        prev = tokens[j]
        if prev.seg != seg or not prev.cased or len(name) >= MAX_NAME:
            break
        if prev.text in lex.stopwords or prev.text in lex.place_types \
                or lex.is_topic_word(prev.text):
            break
        if prev.text in lex.qualifiers or prev.text in lex.honorifics:
            continue
        name.insert(0, (j, prev))
    return name


def _name_word(word: str) -> str:
    if word.isdigit():
        return word.lstrip("0") or "0"
    return modern_spelling(word)


def _dedupe(places: list[Place]) -> list[Place]:
    """Each place once; "RSUD Pasar" cut short is dropped when "RSUD Pasar Minggu" is
    there too (the short form would agree with "RSUD Pasar Rebo")."""
    out: list[Place] = []
    for p in places:
        if p not in out and not any(
                q.kind == p.kind and len(q.name) > len(p.name)
                and q.name[: len(p.name)] == p.name for q in places):
            out.append(p)
    return out


def _address(meta: Mapping[str, Any]) -> str | None:
    loc = meta.get("location")
    if isinstance(loc, Mapping) and isinstance(loc.get("address"), str):
        return loc["address"][:300]
    return None


def location(meta: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """lat/lon from the report's meta: {"lat","lon"|"lng"}, {"latitude","longitude"},
    or the same under "location"/"geo"."""
    for source in (meta, meta.get("location"), meta.get("geo")):
        if not isinstance(source, Mapping):
            continue
        lat = source.get("lat", source.get("latitude"))
        lon = source.get("lon", source.get("lng", source.get("longitude")))
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            continue
        if math.isfinite(lat_f) and math.isfinite(lon_f) and abs(lat_f) <= 90 \
                and abs(lon_f) <= 180:
            return lat_f, lon_f
    return None, None


def contact_hash(author: Author | None) -> str | None:
    """Who wrote it, across channels: an e-mail address or phone number, hashed (the
    matcher needs equality, not the address)."""
    if author is None or author.anonymous:
        return None
    for value in (author.email, author.handle):
        if value and _EMAIL.match(value.strip()):
            return _digest("e:" + value.strip().casefold())
    if author.phone:
        digits = re.sub(r"\D", "", author.phone)
        if len(digits) >= 8:
            return _digest("p:" + digits[-10:])
    return None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742.0 * math.asin(min(1.0, math.sqrt(h)))
