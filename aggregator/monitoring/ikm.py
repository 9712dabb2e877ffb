"""Indeks Kepuasan Masyarakat (IKM) as PermenPANRB 14/2017 has service units compute it.

Pure: answers in, figures out. The survey has nine service elements (*unsur*), each
answered on a 1-4 scale. Per element the average answer is its NRR (*nilai rata-rata*);
the nine NRRs weigh the same (1/9, printed 0.111 in the regulation); their weighted sum
is the index on the 1-4 scale, and times 25 it is the IKM on 25-100, graded A-D by the
regulation's intervals. An element nobody answered is left out and the weights are
spread over the elements that were ("total unsur yang terisi").

How many answers make a figure worth reading depends on the population served; the
regulation takes the sample size from Krejcie and Morgan's table (95 % confidence,
5 % margin), reproduced in `SAMPLE_TABLE`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aggregator.domain import IKM_ELEMENTS, OVERALL_RATING, SURVEY_ELEMENTS

# The nine elements in the regulation's order (a..i), then the one-question rating
# a chat channel asks (not part of the index; shown beside it).
ELEMENTS = IKM_ELEMENTS
OVERALL = OVERALL_RATING
ANSWER_KEYS = SURVEY_ELEMENTS
SCORES = (1, 2, 3, 4)
WEIGHT = 1 / len(ELEMENTS)  # 0.111
FACTOR = 25  # 1-4 scale to 25-100

# (lowest IKM of the grade, grade, performance in Indonesian, in English), best first.
# PermenPANRB 14/2017, table of perception values: interval 3.5324-4.00 -> 88.31-100 A
# (sangat baik); 3.0644-3.532 -> 76.61-88.30 B (baik); 2.60-3.064 -> 65.00-76.60 C
# (kurang baik); 1.00-2.5996 -> 25.00-64.99 D (tidak baik).
GRADES: tuple[tuple[Decimal, str, str, str], ...] = (
    (Decimal("88.31"), "A", "Sangat baik", "Very good"),
    (Decimal("76.61"), "B", "Baik", "Good"),
    (Decimal("65.00"), "C", "Kurang baik", "Fair"),
    (Decimal("25.00"), "D", "Tidak baik", "Poor"),
)

# Krejcie & Morgan (1970): population N -> sample S, as the regulation's annex lists it.
SAMPLE_TABLE: tuple[tuple[int, int], ...] = (
    (10, 10), (15, 14), (20, 19), (25, 24), (30, 28), (35, 32), (40, 36), (45, 40),
    (50, 44), (55, 48), (60, 52), (65, 56), (70, 59), (75, 63), (80, 66), (85, 70),
    (90, 73), (95, 76), (100, 80), (110, 86), (120, 92), (130, 97), (140, 103),
    (150, 108), (160, 113), (170, 118), (180, 123), (190, 127), (200, 132), (210, 136),
    (220, 140), (230, 144), (240, 148), (250, 152), (260, 155), (270, 159), (280, 162),
    (290, 165), (300, 169), (320, 175), (340, 181), (360, 186), (380, 191), (400, 196),
    (420, 201), (440, 205), (460, 210), (480, 214), (500, 217), (550, 226), (600, 234),
    (650, 242), (700, 248), (750, 254), (800, 260), (850, 265), (900, 269), (950, 274),
    (1000, 278), (1100, 285), (1200, 291), (1300, 297), (1400, 302), (1500, 306),
    (1600, 310), (1700, 313), (1800, 317), (1900, 320), (2000, 322), (2200, 327),
    (2400, 331), (2600, 335), (2800, 338), (3000, 341), (3500, 346), (4000, 351),
    (4500, 354), (5000, 357), (6000, 361), (7000, 364), (8000, 367), (9000, 368),
    (10000, 370), (15000, 375), (20000, 377), (30000, 379), (40000, 380), (50000, 381),
    (75000, 382), (1000000, 384),
)
_POPULATIONS = [n for n, _ in SAMPLE_TABLE]


def required_sample(population: int) -> int:
    """The smallest sample the table asks for this population: the row at or above it
    (a population between two rows takes the larger sample); never more than the
    population itself."""
    if population <= 0:
        return 0
    i = bisect_left(_POPULATIONS, population)
    sample = SAMPLE_TABLE[min(i, len(SAMPLE_TABLE) - 1)][1]
    return min(sample, population)


def grade(ikm: float) -> tuple[str, str, str]:
    """(grade, Indonesian, English) for an IKM on 25-100, judged on its two-decimal
    value as the regulation prints it."""
    value = round2(ikm)
    for low, letter, id_, en in GRADES:
        if value >= low:
            return letter, id_, en
    return GRADES[-1][1:]


def round2(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Tally:
    """Answers counted per element and score: counts[element][score] = how many."""

    counts: dict[str, dict[int, int]] = field(default_factory=dict)
    respondents: int = 0  # distinct (ticket, respondent) who answered any element

    def add(self, element: str, score: int, n: int = 1) -> None:
        if element in ANSWER_KEYS and score in SCORES:
            per = self.counts.setdefault(element, {})
            per[score] = per.get(score, 0) + n

    def merge(self, other: Tally) -> None:
        for element, per in other.counts.items():
            for score, n in per.items():
                self.add(element, score, n)
        self.respondents += other.respondents


def nrr(counts: Mapping[int, int]) -> float | None:
    """The element's average answer (None when nobody answered it)."""
    n = sum(counts.values())
    return sum(s * c for s, c in counts.items()) / n if n else None


def index(tally: Tally, population: int | None = None) -> dict[str, Any]:
    """The IKM of these answers, per element and overall, with the sample check."""
    elements = []
    values: list[float] = []
    for key in ELEMENTS:
        counts = tally.counts.get(key, {})
        value = nrr(counts)
        if value is not None:
            values.append(value)
        elements.append({
            "element": key, "answers": sum(counts.values()),
            "nrr": None if value is None else round(value, 4),
            "weighted": None if value is None else round(value * WEIGHT, 4),
            "ikm": None if value is None else float(round2(value * FACTOR)),
            "distribution": {str(s): counts.get(s, 0) for s in SCORES},
        })
    out: dict[str, Any] = {
        "respondents": tally.respondents, "elements": elements, "weight": round(WEIGHT, 3),
        "nrr_weighted": None, "ikm": None, "grade": None, "performance": None,
        "performance_en": None,
    }
    if values:
        # Equal weights over the elements answered: 1/9 each when all nine were.
        weighted = sum(values) / len(values)
        ikm = weighted * FACTOR
        letter, id_, en = grade(ikm)
        out.update(nrr_weighted=round(weighted, 4), ikm=float(round2(ikm)), grade=letter,
                   performance=id_, performance_en=en)
    overall = tally.counts.get(OVERALL, {})
    mean = nrr(overall)
    out["overall_rating"] = {
        "answers": sum(overall.values()),
        "mean": None if mean is None else round(mean, 4),
        "score": None if mean is None else float(round2(mean * FACTOR)),
        "distribution": {str(s): overall.get(s, 0) for s in SCORES},
    }
    out["sample"] = sample_check(tally.respondents, population)
    return out


def sample_check(respondents: int, population: int | None) -> dict[str, Any]:
    """Whether the sample is large enough to mean much for this population."""
    if population is None:
        return {"population": None, "required": None, "enough": None}
    need = required_sample(max(population, respondents))
    return {"population": population, "required": need, "enough": respondents >= need}
