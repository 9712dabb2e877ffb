"""The IKM as PermenPANRB 14/2017 computes it, checked against sums done by hand."""

from __future__ import annotations

import math

import pytest

from aggregator.monitoring import ikm


def tally(*respondents: dict[str, int]) -> ikm.Tally:
    t = ikm.Tally(respondents=len(respondents))
    for answers in respondents:
        for element, score in answers.items():
            t.add(element, score)
    return t


ALL_FOUR = dict.fromkeys(ikm.ELEMENTS, 4)
ALL_THREE = dict.fromkeys(ikm.ELEMENTS, 3)


def test_nine_elements_in_the_regulations_order():
    assert ikm.ELEMENTS == ("persyaratan", "prosedur", "waktu", "biaya", "produk",
                            "kompetensi", "perilaku", "pengaduan", "sarana")
    assert round(ikm.WEIGHT, 3) == 0.111


def test_ikm_by_hand():
    # Four respondents. Persyaratan: 4, 3, 2, 3 -> NRR 12/4 = 3.00. Every other element:
    # 4, 4, 3, 3 -> 14/4 = 3.50. Weighted (1/9 each): (3.00 + 8 x 3.50) / 9 = 31/9
    # = 3.4444. IKM = 3.4444 x 25 = 86.11: B, "Baik".
    r1 = {**ALL_FOUR}
    r2 = {**ALL_FOUR, "persyaratan": 3}
    r3 = {**ALL_THREE, "persyaratan": 2}
    r4 = {**ALL_THREE}
    out = ikm.index(tally(r1, r2, r3, r4), population=4)
    nrr = {e["element"]: e["nrr"] for e in out["elements"]}
    assert nrr["persyaratan"] == 3.0
    assert all(nrr[k] == 3.5 for k in ikm.ELEMENTS[1:])
    assert out["nrr_weighted"] == round(31 / 9, 4)
    assert out["ikm"] == 86.11
    assert (out["grade"], out["performance"], out["performance_en"]) == ("B", "Baik", "Good")
    first = out["elements"][0]
    assert first["answers"] == 4 and first["distribution"] == {"1": 0, "2": 1, "3": 2, "4": 1}
    assert first["weighted"] == round(3.0 / 9, 4)
    assert out["respondents"] == 4


def test_perfect_and_worst_answers_span_25_to_100():
    assert ikm.index(tally(ALL_FOUR))["ikm"] == 100.0
    worst = ikm.index(tally(dict.fromkeys(ikm.ELEMENTS, 1)))
    assert (worst["ikm"], worst["grade"], worst["performance"]) == (25.0, "D", "Tidak baik")


@pytest.mark.parametrize(("value", "grade"), [
    (100.0, "A"), (88.31, "A"), (88.305, "A"), (88.30, "B"), (88.2999, "B"), (76.61, "B"),
    (76.60, "C"), (65.00, "C"), (64.99, "D"), (64.994, "D"), (25.0, "D"),
])
def test_grade_intervals_of_the_regulation(value, grade):
    # A 88.31-100, B 76.61-88.30, C 65.00-76.60, D 25.00-64.99, judged at two decimals.
    assert ikm.grade(value)[0] == grade


def test_an_element_nobody_answered_is_left_out_of_the_weights():
    # Biaya is free here and nobody answered it: the other eight share the weight.
    answers = {k: 4 for k in ikm.ELEMENTS if k != "biaya"}
    answers["persyaratan"] = 2
    out = ikm.index(tally(answers))
    assert out["elements"][3]["nrr"] is None and out["elements"][3]["answers"] == 0
    assert out["ikm"] == round((2 + 7 * 4) / 8 * 25, 2)  # 93.75


def test_overall_rating_is_reported_beside_not_inside_the_index():
    t = ikm.Tally()
    for score in (4, 3, 3, 2):
        t.add("overall", score)
    out = ikm.index(t)
    assert out["ikm"] is None and out["grade"] is None
    assert out["overall_rating"] == {"answers": 4, "mean": 3.0, "score": 75.0,
                                     "distribution": {"1": 0, "2": 1, "3": 2, "4": 1}}


def test_answers_outside_the_scale_or_vocabulary_are_not_counted():
    t = ikm.Tally()
    t.add("persyaratan", 5)
    t.add("persyaratan", 0)
    t.add("warna", 4)
    assert t.counts == {}


@pytest.mark.parametrize(("population", "sample"), [
    (0, 0), (1, 1), (8, 8), (10, 10), (11, 11), (12, 12), (15, 14), (100, 80), (101, 86),
    (500, 217), (1000, 278), (1001, 285), (10000, 370), (75000, 382), (1_000_000, 384),
    (50_000_000, 384),
])
def test_minimum_sample_from_the_krejcie_morgan_table(population, sample):
    # Between two rows the larger sample applies; never more than the population.
    assert ikm.required_sample(population) == sample


def test_the_table_is_krejcie_and_morgans_formula():
    # S = X^2 N P(1-P) / (d^2 (N-1) + X^2 P(1-P)), X^2 = 3.841, P = 0.5, d = 0.05;
    # the published table rounds (mostly up) to whole people.
    for n, s in ikm.SAMPLE_TABLE:
        exact = 3.841 * n * 0.25 / (0.0025 * (n - 1) + 3.841 * 0.25)
        assert s in (round(exact), math.ceil(exact)), n


def test_sample_check_warns_when_too_few_answered():
    out = ikm.index(tally(ALL_FOUR, ALL_THREE), population=100)
    assert out["sample"] == {"population": 100, "required": 80, "enough": False}
    assert ikm.index(tally(ALL_FOUR), population=1)["sample"]["enough"] is True
