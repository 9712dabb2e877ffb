"""The stemmer is skipped for words no Sastrawi rule can change (normalize._root): the
stems must stay Sastrawi's own, or two tellings of one complaint would stop sharing
words. This guards the shortcut against a Sastrawi release with new rules."""

from __future__ import annotations

import random

from aggregator.dedup import normalize
from aggregator.dedup.lexicon import sastrawi_dictionary

AFFIXES = (["", "me", "mem", "men", "meng", "meny", "di", "ber", "ter", "pe", "pen", "per",
            "ke", "se", "ku", "kau"], ["", "kan", "an", "i", "nya", "lah", "pun", "is"])


def test_the_shortcut_gives_sastrawis_own_stems():
    rng = random.Random(11)
    roots = rng.sample(sorted(sastrawi_dictionary()), 40)
    words = {p + r + s for r in roots for p in AFFIXES[0] for s in AFFIXES[1]}
    syllables = "ka ma lu te so ri pa ngu wi de bo sa ji ra nu el em er in ny".split()
    words |= {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
              for _ in range(1500)}
    words |= {"gemetar", "telunjuk", "sinambung", "kemacetan", "cibinong", "tebet",
              "sudirman", "antrian", "berjam-jam", "obat-obatan"}
    stemmer = normalize._stemmer()
    skipped = [w for w in words if "-" not in w
               and not normalize._AFFIXED_FOR_SASTRAWI.search(w)]
    assert len(skipped) > 300  # the shortcut is taken, for names above all
    assert {w: normalize._root(w) for w in words} == {w: stemmer.stem_word(w) for w in words}


def test_word_frequencies_are_wordfreqs_own():
    """Unseen plain words skip wordfreq's tokenizer (weights._zipf): same answers."""
    import wordfreq

    from aggregator.dedup import weights

    rng = random.Random(12)
    words = wordfreq.top_n_list("id", 3000)[::3] + wordfreq.top_n_list("en", 3000)[::3]
    words += ["".join(rng.choice("kamalutesoripa") for _ in range(7)) for _ in range(500)]
    words += ["jl", "rsud", "e-ktp", "café", "naïve", "covid19", "x"]
    for lang in ("id", "en"):
        assert [weights._zipf(w, lang) for w in words] == \
            [float(wordfreq.zipf_frequency(w, lang)) for w in words]
