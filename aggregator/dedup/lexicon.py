"""The normalisation vocabulary, read from a data file rather than written in code.

Slang, abbreviations, place-type variants and stopwords change with every region and
every year; keeping them in `data/lexicon.txt` lets an operator or a linguist extend
them without touching the matcher. The Sastrawi root dictionary tells ordinary words
from proper names (a word it does not know is probably a place or a person).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class EventClass:
    """A kind of incident (power cut, water outage, stock-out, system down) however it
    is told: one of `alone` says it; so does an `objects` word with a `failures` word
    ("lampu" + "rusak", "obat" + "habis"). Its token joins the report's topic."""

    token: str
    alone: frozenset[str]
    objects: frozenset[str]
    failures: frozenset[str]

    def said_in(self, words: frozenset[str] | set[str]) -> bool:
        return bool(self.alone & words) or bool(self.objects & words and
                                                  self.failures & words)


@dataclass(frozen=True, eq=False)
class Lexicon:
    replace: dict[Phrase, Phrase] = field(default_factory=dict)
    max_phrase: int = 1
    stopwords: frozenset[str] = frozenset()
    generic: frozenset[str] = frozenset()
    place_types: frozenset[str] = frozenset()
    place_types_after: frozenset[str] = frozenset()
    area_types: frozenset[str] = frozenset()
    broad_types: frozenset[str] = frozenset()
    locatives: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    event_classes: tuple[EventClass, ...] = ()
    entities: frozenset[str] = frozenset()
    town_events: frozenset[str] = frozenset()
    qualifiers: frozenset[str] = frozenset()
    honorifics: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()
    english: frozenset[str] = frozenset()
    name_words: frozenset[str] = frozenset()
    colloquial: tuple[tuple[str, str], ...] = ()
    closings: tuple[Phrase, ...] = ()
    identity_labels: tuple[Phrase, ...] = ()
    trailers: tuple[Phrase, ...] = ()
    disclaimers: tuple[Phrase, ...] = ()
    dictionary: frozenset[str] = frozenset()
    weights: dict[str, float] = field(default_factory=dict)

    def event_tokens(self, words: frozenset[str] | set[str]) -> set[str]:
        """The kinds of incident a set of canonical words (stems) speaks of."""
        return {c.token for c in self.event_classes if c.said_in(words)}

    def is_vocabulary(self, word: str) -> bool:
        """An ordinary word (root dictionary, our own lists), as opposed to a name."""
        return (
            word in self.dictionary or word in self.known or word in self.stopwords
            or word in self.generic or word in self.place_types or word in self.qualifiers
            or word in self.english or word in self._canonical
        )

    def is_topic_word(self, word: str) -> bool:
        """A canonical word of the complaint vocabulary (antri, rusak, lubang): it ends
        a place name ("Jalan Berlubang" is no street)."""
        return word in self._canonical and word not in self.name_words

    def is_known_form(self, word: str) -> bool:
        """A word to keep as it is: stemming "perumahan" or "kelurahan" would lose the
        place type, and canonical forms are already roots."""
        return (
            word in self.place_types or word in self.qualifiers or word in self.known
            or word in self.stopwords or word in self.honorifics or word in self._canonical
            or word in self.name_words
        )

    @functools.cached_property
    def phrase_starts(self) -> dict[str, int]:
        """First word of a phrase -> the longest phrase starting with it."""
        starts: dict[str, int] = {}
        for phrase in self.replace:
            if len(phrase) > 1:
                starts[phrase[0]] = max(starts.get(phrase[0], 1), len(phrase))
        return starts

    @functools.cached_property
    def _canonical(self) -> frozenset[str]:
        words: set[str] = set()
        for variant, canonical in self.replace.items():
            words.update(canonical)
            if len(variant) == 1:
                words.update(variant)
        return frozenset(words - self.name_words)


def parse(text: str, dictionary: frozenset[str] = frozenset()) -> Lexicon:
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, [])
            continue
        if current is None:
            raise ValueError(f"lexicon line outside a section: {raw!r}")
        sections[current].append(line.casefold())

    replace: dict[Phrase, Phrase] = {}
    name_words: set[str] = set()
    for section in ("replace", "names"):
        for line in sections.get(section, []):
            canonical, _, variants = line.partition("=")
            target: Phrase = () if canonical.strip() == "-" else tuple(canonical.split())
            if section == "names":
                name_words.update(target)
            for variant in variants.split(","):
                phrase = tuple(variant.split())
                if phrase and phrase != target:
                    replace[phrase] = target

    def words(name: str) -> frozenset[str]:
        return frozenset(w for line in sections.get(name, []) for w in line.split())

    classes = []
    for line in sections.get("event_classes", []):
        name, _, spec = line.partition(":")
        alone, objects, failures = ([*spec.split("|"), "", ""])[:3]
        classes.append(EventClass(f"ev_{name.strip()}", frozenset(alone.split()),
                                  frozenset(objects.split()), frozenset(failures.split())))
    weights = {}
    for line in sections.get("weights", []):
        word, _, value = line.partition("=")
        weights[word.strip()] = float(value)
    colloquial = []
    for line in sections.get("colloquial", []):
        informal, _, formal = line.partition("=")
        colloquial.append((informal.strip(), formal.strip()))
    return Lexicon(
        replace=replace,
        max_phrase=max((len(k) for k in replace), default=1),
        stopwords=words("stopwords"),
        generic=words("generic"),
        place_types=words("place_types"),
        place_types_after=words("place_types_after"),
        area_types=words("area_types"),
        broad_types=words("broad_types"),
        locatives=words("locatives"),
        events=words("events") | {c.token for c in classes},
        event_classes=tuple(classes),
        entities=words("entities"),
        town_events=words("town_events"),
        qualifiers=words("qualifiers"),
        honorifics=frozenset(w.rstrip(".") for w in words("honorifics")),
        known=words("known"),
        english=words("english"),
        name_words=frozenset(name_words - words("place_types")),
        colloquial=tuple(colloquial),
        closings=tuple(tuple(line.split()) for line in sections.get("closings", [])),
        identity_labels=tuple(tuple(line.split()) for line in sections.get("identity_labels", [])),
        trailers=tuple(tuple(line.split()) for line in sections.get("trailers", [])),
        disclaimers=tuple(tuple(line.split()) for line in sections.get("disclaimers", [])),
        dictionary=dictionary,
        weights=weights,
    )


@functools.cache
def sastrawi_dictionary() -> frozenset[str]:
    import Sastrawi

    path = Path(Sastrawi.__file__).parent / "Stemmer" / "data" / "kata-dasar.txt"
    return frozenset(w.strip() for w in path.read_text(encoding="utf-8").split() if w.strip())


@functools.cache
def default_lexicon() -> Lexicon:
    text = resources.files("aggregator.dedup").joinpath("data/lexicon.txt").read_text(
        encoding="utf-8"
    )
    return parse(text, sastrawi_dictionary())
