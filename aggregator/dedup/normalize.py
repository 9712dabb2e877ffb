"""Indonesian (and English) complaint text -> a list of normalised tokens.

The original text is never changed; this only builds what the matcher compares. Steps:
drop the e-mail signature, URLs, @mentions and emoji; keep hashtag words (split
camelCase); cut into segments at sentence punctuation (place names never cross one);
fold case, repeated letters ("lamaaa"), reduplication ("org2", "berjam-jam"); map slang,
abbreviations and English words to one canonical form (`data/lexicon.txt`); repair
informal verb forms ("nunggu" -> "tunggu"); stem with Sastrawi (bounded cache).
Each token remembers whether it was capitalised: in a mixed-case text, capitalised
words after "RSUD" are the hospital's name.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, NamedTuple

from aggregator.dedup.lexicon import Lexicon, default_lexicon
from aggregator.dedup.weights import WORD_CACHE, is_english

_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_MENTION = re.compile(r"(?<![\w.])@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_CAPS_THEN_WORD = re.compile(r"([A-Z]{2,})([a-z]{3,})")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NUMBER_SEP = re.compile(r"(?<=\d)[.,](?=\d)")
_ABBREV_DOT = re.compile(
    r"\b(dr|jl|jln|kec|kel|kab|no|ir|h|hj|prof|drs|gg|rp|st|[a-z])\.", re.I
)
_SEGMENT = re.compile(r"[.!?;:,()\[\]{}\"\n/|]+")
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_REPEAT3 = re.compile(r"([^\W\d_])\1{2,}")
_REPEAT2 = re.compile(r"([a-z])\1")
_MONEY = re.compile(r"^rp\d*$")
_REDUP2 = re.compile(r"^([a-z]{2,})2$")
_OLD_SPELLING = (("oe", "u"), ("dj", "j"), ("tj", "c"))


class Token(NamedTuple):
    """One word of a text. A tuple, not a frozen dataclass: a 1 KB report has ~100,
    and a frozen dataclass's __init__ cost ~0.4 us each, a tenth of extraction."""

    text: str  # canonical surface form (slang mapped, not stemmed)
    stem: str
    cased: bool  # written with a capital letter (or digits)
    seg: int  # segment number; place names do not cross segments
    raw: str = ""  # the word as written (lower case), before mapping


def tokenize(text: str, lexicon: Lexicon | None = None) -> list[Token]:
    lex = lexicon or default_lexicon()
    text = unicodedata.normalize("NFKC", text)
    text = _strip_signature(text, lex)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub(lambda m: " " + _hashtag_words(m.group(1), lex) + " ", text)
    text = _NUMBER_SEP.sub("", text)
    text = _ABBREV_DOT.sub(r"\1 ", text)
    out: list[Token] = []
    for seg_no, segment in enumerate(_SEGMENT.split(text)):
        if len(segment) > SEGMENT_CACHE_CHARS:
            words = _segment_words(segment, lex)
        else:
            words = _segment_words_cached(segment, lex)
        out += [Token(text_, stem, cased, seg_no, orig) for text_, stem, cased, orig in words]
    return out


_SegmentWord = tuple[str, str, bool, str]  # (text, stem, cased, as written)

# Sentences cached by their text. A viral burst repeats whole sentences (forwarded
# chain messages, copied posts, quote-tweets) and letters and forms share theirs
# ("Mohon segera ditindaklanjuti"); one cached sentence is ~1-3 KB, so the bound
# keeps the cache to a few MB. Long segments (a letter without punctuation) rarely
# repeat and are not kept.
SEGMENT_CACHE = 1_024
SEGMENT_CACHE_CHARS = 300


@functools.lru_cache(maxsize=SEGMENT_CACHE)
def _segment_words_cached(segment: str, lex: Lexicon) -> tuple[_SegmentWord, ...]:
    return _segment_words(segment, lex)


def _segment_words(segment: str, lex: Lexicon) -> tuple[_SegmentWord, ...]:
    """One segment's words, mapped and stemmed: a function of its text alone."""
    raw = _WORD.findall(segment)
    if not raw:
        return ()
    words: list[_Word] = []
    for w in raw:
        cased = w[0].isupper() or w[0].isdigit()
        if cased and len(w) >= 4 and w.isupper() and _ordinary(w.casefold(), lex):
            cased = False  # a shouted word ("BANJIR DI BERBAGAI DAERAH"), not a name
        for part in _split_word(w.casefold()):
            words.append((part, cased, part))
    out: list[_SegmentWord] = []
    for text_, cased, orig in _replace(words, lex):
        stem = _stem(text_, lex)
        if cased and stem + "i" == text_ and text_ not in lex.dictionary:
            stem = text_  # Bekasi is a city, not "bekas" + -i
        out.append((text_, stem, cased, orig))
    return tuple(out)


def _strip_signature(text: str, lex: Lexicon) -> str:
    """Cut what a letter wraps its complaint in: the writer's identity lines ("NIK :",
    "Alamat :", "HP 0812..."), quoted replies, what follows it (copies, disclaimers,
    "sent from my phone") and the closing ("Hormat saya, Budi, Jagakarsa"). Names and
    addresses in them say nothing about the problem and would make two letters about
    one incident look like two places."""
    lines = [x for x in text.splitlines() if not x.lstrip().startswith(">")]
    identity = _identity_line(lex)
    kept: list[str] = []
    for i, line in enumerate(lines):
        words = tuple(_WORD.findall(line.casefold()))
        if i > 0 and (line.strip() == "--" or _QUOTE_HEAD.match(line) or (
                i >= len(lines) // 2 and _starts(words, lex.trailers))):
            break
        if not identity.match(line):
            kept.append(line)
    start = max(0, len(kept) - 8)
    for i in range(start, len(kept)):
        words = tuple(_WORD.findall(kept[i].casefold()))
        if i > 0 and _starts(words, lex.closings):
            tail = sum(len(_WORD.findall(x)) for x in kept[i:])
            if tail <= 25:
                return "\n".join(kept[:i])
    return "\n".join(kept)


def _starts(words: tuple[str, ...], phrases: tuple[tuple[str, ...], ...]) -> bool:
    return any(words[: len(p)] == p for p in phrases)


_QUOTE_HEAD = re.compile(r"^\s*(?:on|pada)\b.{4,160}\b(?:wrote|menulis)\s*:\s*$", re.I)


@functools.lru_cache(maxsize=4)
def _identity_line(lex: Lexicon) -> re.Pattern[str]:
    """A line that starts with an identity label, then ":" or a number."""
    labels = sorted((r"[\s.]*".join(re.escape(w) for w in label)
                     for label in lex.identity_labels), key=len, reverse=True)
    if not labels:
        return re.compile(r"(?!)")
    return re.compile(r"^\s*(?:" + "|".join(labels) + r")[\s.]*(?::|(?=[\d+(]))", re.I)


def _hashtag_words(tag: str, lex: Lexicon) -> str:
    """#BaliBlackout -> "Bali Blackout"; #medanpadam -> "medan padam" (two words the
    vocabulary knows, the longest second one first)."""
    caps = _CAPS_THEN_WORD.fullmatch(tag)
    if caps and _ordinary(caps[2], lex):
        return f"{caps[1]} {caps[2]}"  # #PDNdown, #BPJSerror: the acronym, then a word
    if not tag.islower() or not tag.isalpha() or len(tag) < 7 or _ordinary(tag, lex):
        return _CAMEL.sub(" ", tag)
    for i in range(3, len(tag) - 2):
        left, right = tag[:i], tag[i:]
        if _ordinary(left, lex) and _ordinary(right, lex):
            return f"{left} {right}"
    return tag


def _ordinary(word: str, lex: Lexicon) -> bool:
    """A dictionary word, or a derived form of one (berbagai, pemadaman)."""
    return lex.is_vocabulary(word) or (word.isalpha() and _stem(word, lex) in lex.dictionary)


def _split_word(word: str) -> list[str]:
    word = _REPEAT3.sub(r"\1", word)
    if "-" in word:
        first, _, rest = word.partition("-")
        second = rest.split("-")[-1]
        if second == first or first.endswith(second) or second.startswith(first):
            word = first  # reduplication: berjam-jam, obat-obatan, kira-kira
        elif len(first) <= 2:
            word = first + rest.replace("-", "")  # e-ktp, m-paspor
        else:
            return [p for w in word.split("-") for p in _split_word(w)]
    m = _REDUP2.match(word)
    if m:
        word = m.group(1)  # org2, anak2
    if _MONEY.match(word):
        return []
    return [word] if word else []


_Word = tuple[str, bool, str]  # (text, cased, as written)


def _replace(words: list[_Word], lex: Lexicon) -> list[_Word]:
    """Words and phrases -> canonical form; twice, so a phrase written with slang
    ("ga ngalir" -> "tidak alir") is found once its words are mapped."""
    return _replace_pass(_replace_pass(words, lex, repair=True), lex, repair=False)


def _replace_pass(words: list[_Word], lex: Lexicon, *, repair: bool) -> list[_Word]:
    out: list[_Word] = []
    starts, table = lex.phrase_starts, lex.replace
    i, count = 0, len(words)
    while i < count:
        word, cased, orig = words[i]
        longest = min(starts.get(word, 1), count - i)
        for n in range(longest, 1, -1):  # phrases, longest first
            target = table.get(tuple(w[0] for w in words[i : i + n]))
            if target is not None:
                out += [(t, cased, orig) for t in target]
                i += n
                break
        else:
            if repair:
                if not cased:
                    word = _repair(word, lex)  # a capitalised word is a name
                target = table.get((word,))
                if target is not None:
                    out += [(t, cased, orig) for t in target]
                    i += 1
                    continue
            out.append((word, cased, orig))
            i += 1
    return out


def _repair(word: str, lex: Lexicon) -> str:
    if not word.isalpha() or lex.is_vocabulary(word) or (word,) in lex.replace:
        return word  # decided without the cache: numbers and known words stay out of it
    return _repair_cached(word, lex)


@functools.lru_cache(maxsize=WORD_CACHE)
def _repair_cached(word: str, lex: Lexicon) -> str:
    if _root(word) in lex.dictionary:
        return word  # a derived form of a known root: menunggu, pendaftaran
    if word.endswith("nya") and len(word) > 6:
        base = word[:-3]  # "gatenya", "aplikasinya": -nya on a borrowed word
        if lex.is_vocabulary(base) or (base,) in lex.replace or is_english(base):
            return base
    candidates = []
    single = _REPEAT2.sub(r"\1", word)
    if single != word:
        candidates.append(single)  # lamaa, bagus -> keep; "nungguu" -> "nunggu"
    for base in [word, *candidates]:
        if base.endswith("in") and len(base) > 5:
            candidates.append(base[:-2])  # Jakarta "-in": tungguin, terbitin
        for informal, formal in lex.colloquial:
            if base.startswith(informal) and len(base) > len(informal) + 2:
                candidates.append(formal + base[len(informal):])
    for cand in candidates:
        # Only a root word counts: "manggarai" -> "anggarai" must not pass as a repair.
        if cand in lex.dictionary or (cand,) in lex.replace:
            return cand
        if cand.endswith("nya") and cand[:-3] in lex.dictionary:
            return cand[:-3]
    if word.endswith("in") and len(word) > 6 and _root(word[:-2]) in lex.dictionary:
        return word[:-2]  # dilaporin -> dilapor
    return word


# Sastrawi changes a word only through an affix one of its rules knows, each anchored at
# the start (di-, ke-, se-, me-, be-, te-, pe-, ku-, kau-, er-, or -el-, -em-, -er-, -in-
# after the first consonant) or at the end (-lah, -kah, -tah, -pun, -ku, -mu, -nya, -i,
# -kan, -an, -is, -isme); a word with none of them (and no hyphen) comes back as it is.
# Most names and typos are such words, and the stemmer spent ~270 us on each.
_AFFIXED_FOR_SASTRAWI = re.compile(
    r"^(?:di|ke|se|me|be|te|pe|ku|kau|er|[bcdfghjklmnpqrstvwxyz](?:el|em|er|in)[aiueo])"
    r"|(?:lah|kah|tah|pun|ku|mu|nya|i|kan|an|is|isme)$")


def _root(word: str) -> str:
    """Sastrawi's stem of `word` (a dictionary root, or the word itself)."""
    if "-" not in word and not _AFFIXED_FOR_SASTRAWI.search(word):
        return word
    if "-" not in word and len(word) > 3 and not _PREFIXED_FOR_SASTRAWI.match(word):
        return _suffixed_root(word)
    return str(_stemmer().stem_word(word))


# The start of `_AFFIXED_FOR_SASTRAWI`: every prefix rule of Sastrawi (and the plain
# di-/ke-/se-) is a pattern anchored here, so a word without one of these starts has
# no prefix Sastrawi could remove, nor has any start of that word.
_PREFIXED_FOR_SASTRAWI = re.compile(
    r"^(?:di|ke|se|me|be|te|pe|ku|kau|er|[bcdfghjklmnpqrstvwxyz](?:el|em|er|in)[aiueo])")
# Sastrawi's suffix rules, in its order: particle, possessive pronoun, derivational.
_SASTRAWI_SUFFIXES = (re.compile(r"-*(lah|kah|tah|pun)$"), re.compile(r"-*(ku|mu|nya)$"),
                      re.compile(r"(is|isme|isasi|i|kan|an)$"))


def _suffixed_root(word: str) -> str:
    """What `Stemmer.stem_word` answers for a word of more than three letters with a
    suffix but no prefix (most names and typos it is asked about: "saderi", "pasoli"),
    without its ~200 us of trying every prefix rule, none of which can apply. Sastrawi
    then: the word if it is a root; else each suffix removed in turn, the first result
    that is a root; else, when "-kan" was removed, that stem + "k" ("masukkan" ->
    "masuk") if a root; else the word. (Its last round re-checks words checked
    already, and its prefix rules see only starts of this word, which have none.)
    tests/dedup/test_fast_paths.py checks this against Sastrawi on a vocabulary."""
    has = _stemmer().dictionary.contains
    if has(word):
        return word
    before = current = word
    for suffix in _SASTRAWI_SUFFIXES:
        before, current = current, suffix.sub("", current, count=1)
        if has(current):
            return current
    if before == current + "kan" and has(current + "k"):
        return current + "k"
    return word


@functools.cache
def _stemmer() -> Any:
    from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
    from Sastrawi.Stemmer.Stemmer import Stemmer

    from aggregator.dedup.lexicon import sastrawi_dictionary

    # The plain stemmer, not the factory's CachedStemmer: its cache never forgets.
    return Stemmer(ArrayDictionary(list(sastrawi_dictionary())))


@functools.lru_cache(maxsize=WORD_CACHE)
def _stem_cached(word: str, lex: Lexicon) -> str:
    stem = _root(word)
    if stem not in lex.dictionary:
        return word  # not an Indonesian word: a name or English; keep it whole
    target = lex.replace.get((stem,))
    return target[0] if target and len(target) == 1 else stem


def _stem(word: str, lex: Lexicon) -> str:
    if not word.isalpha() or len(word) <= 3 or lex.is_known_form(word):
        return word  # decided without the cache: numbers and known words stay out of it
    return _stem_cached(word, lex)


def modern_spelling(word: str) -> str:
    """Old Indonesian spelling of names (Soetomo, Djuanda) -> modern (Sutomo, Juanda)."""
    if len(word) < 4:
        return word  # "Tj." is Tanjung, not "c"
    for old, new in _OLD_SPELLING:
        word = word.replace(old, new)
    return word
