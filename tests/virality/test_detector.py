"""User-visible behaviour of the burst detector, and the NAB scorer of bench/viral_eval.py."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.virality.detector import BurstDetector, Decision, DetectorSettings
from bench.viral_eval import nab_score

T0 = datetime(2024, 3, 4, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def quiet_week(det: BurstDetector, seed: int = 1) -> datetime:
    """A week of about one report a day, ticked every 5 minutes; returns the next moment."""
    rng = random.Random(seed)
    t = T0
    while t < T0 + timedelta(days=7):
        if rng.random() < 1 / 288:
            det.arrival(t)
        assert det.tick(t).level == 0
        t += FIVE
    return t


def spread(det: BurstDetector, start: datetime, n: int, over: timedelta) -> list[Decision]:
    """`n` reports evenly over `over`, with a tick after each one."""
    step = over / n
    out = []
    for j in range(n):
        det.arrival(start + j * step)
        out.append(det.tick(start + j * step))
    return out


def test_three_reports_after_a_quiet_week_are_not_viral() -> None:
    det = BurstDetector()
    t = quiet_week(det)
    decisions = spread(det, t, 3, timedelta(minutes=2))
    decisions += [det.tick(t + m * FIVE) for m in range(1, 48)]
    assert all(d.level == 0 and not d.alarm for d in decisions)


def test_forty_reports_in_an_hour_raise_an_alarm() -> None:
    det = BurstDetector()
    t = quiet_week(det)
    decisions = spread(det, t, 40, timedelta(hours=1))
    alarms = [d for d in decisions if d.alarm]
    assert alarms and alarms[0].level >= 1
    assert decisions[-1].level >= 1
    evidence = alarms[0].evidence
    assert evidence["counts"]["60m"] >= 10 and evidence["max_growth"] > 2
    assert evidence["baseline_per_hour"] <= 1.0


def test_a_new_stream_with_a_burst_alarms_from_the_prior() -> None:
    det = BurstDetector()
    decisions = spread(det, T0, 40, timedelta(hours=1))
    assert any(d.alarm for d in decisions)


def test_continued_growth_raises_the_level_again() -> None:
    det = BurstDetector()
    t = quiet_week(det)
    first = spread(det, t, 40, timedelta(hours=1))
    first_level = max(d.level for d in first)
    later = spread(det, t + timedelta(hours=1), 150, timedelta(hours=1))
    later += spread(det, t + timedelta(hours=2), 500, timedelta(hours=1))
    assert max(d.level for d in later) > first_level
    assert [d.level for d in later if d.alarm] == sorted({d.level for d in later if d.alarm})
    assert all(d.level > first_level for d in later if d.alarm)


def test_one_burst_gives_one_alarm_per_level() -> None:
    det = BurstDetector()
    t = quiet_week(det)
    decisions = spread(det, t, 300, timedelta(hours=3))
    levels = [d.level for d in decisions if d.alarm]
    assert levels == sorted(set(levels)) and len(levels) >= 2
    # the episode starts once; the later alarms are escalations of it
    alarms = [d for d in decisions if d.alarm]
    assert [d.onset for d in alarms] == [True] + [False] * (len(alarms) - 1)
    assert not any(d.onset for d in decisions if not d.alarm)


def test_level_decays_on_ticks_alone() -> None:
    det = BurstDetector()
    t = quiet_week(det)
    burst = spread(det, t, 200, timedelta(hours=1))
    assert burst[-1].level >= 1
    after = [det.tick(t + timedelta(hours=1) + m * FIVE) for m in range(1, 12 * 6)]
    assert after[-1].level == 0 and after[-1].score == 0.0
    assert all(b.level <= a.level for a, b in zip(after, after[1:], strict=False))
    assert not any(d.alarm for d in after)


def series(n: int, seed: int = 7) -> Iterator[tuple[datetime, float]]:
    """Poisson-ish 5-minute counts around 20 with a burst in the middle."""
    rng = random.Random(seed)
    for i in range(n):
        rate = 20.0 * (8.0 if n // 2 <= i < n // 2 + 12 else 1.0)
        yield T0 + i * FIVE, float(sum(rng.random() < rate / 200 for _ in range(200)))


def test_state_round_trip_gives_identical_decisions() -> None:
    data = list(series(3000))
    whole = BurstDetector()
    expected = [whole.observe(t, v) for t, v in data]
    first = BurstDetector()
    got = [first.observe(t, v) for t, v in data[:1700]]
    state = json.loads(json.dumps(first.to_state()))
    restored = BurstDetector.from_state(state)
    got += [restored.observe(t, v) for t, v in data[1700:]]
    assert got == expected
    assert any(d.alarm for d in expected)


def test_state_from_other_settings_is_refused() -> None:
    det = BurstDetector()
    det.observe(T0, 3)
    with pytest.raises(ValueError):
        BurstDetector.from_state(det.to_state(), DetectorSettings(scales=(1, 6)))


def test_no_look_ahead_prefix_decisions_equal_full_run() -> None:
    data = list(series(2500))
    full = BurstDetector()
    full_decisions = [full.observe(t, v) for t, v in data]
    for cut in (100, 1249, 1256, 2000):
        prefix = BurstDetector()
        assert [prefix.observe(t, v) for t, v in data[:cut]] == full_decisions[:cut]


def test_nab_scorer_extremes_on_a_tiny_series() -> None:
    stamps = [T0 + i * FIVE for i in range(100)]  # probation: floor(15) rows
    windows = [(stamps[30], stamps[39]), (stamps[70], stamps[79])]
    perfect = nab_score("tiny", stamps, {30, 70}, windows)
    null = nab_score("tiny", stamps, set(), windows)
    assert perfect.score == pytest.approx(100.0)
    assert null.score == pytest.approx(0.0)
    assert (perfect.raw, null.raw, perfect.perfect, null.null) == pytest.approx((2, -2, 2, -2))
    early_fp = nab_score("tiny", stamps, {20, 30, 70}, windows)
    assert early_fp.raw == pytest.approx(2 - 0.11) and early_fp.false_alarms == 1
    in_probation = nab_score("tiny", stamps, {5, 30, 70}, windows)
    assert in_probation.score == pytest.approx(100.0)
    late = nab_score("tiny", stamps, {39, 79}, windows)  # last row of each window
    assert 0 < late.score < 100 and late.hits == 2


def steady_with_bursts(days: int, bursts: dict[int, float], seed: int = 3
                       ) -> Iterator[tuple[datetime, float]]:
    """5-minute counts around 20 for `days` days; `bursts` maps a bucket index to the
    multiplier of the hour starting there."""
    rng = random.Random(seed)
    factor = {i + j: f for i, f in bursts.items() for j in range(12)}
    for i in range(days * 288):
        rate = 20.0 * factor.get(i, 1.0)
        yield T0 + i * FIVE, float(sum(rng.random() < rate / 400 for _ in range(400)))


def test_a_burst_smaller_than_recent_peaks_does_not_alarm_a_bigger_one_does() -> None:
    first, smaller, bigger = 4 * 288, 6 * 288, 8 * 288
    det = BurstDetector()
    decisions = [det.observe(t, v) for t, v in
                 steady_with_bursts(9, {first: 12.0, smaller: 5.0, bigger: 12.0})]
    hour = slice(smaller, smaller + 12)
    assert [d for d in decisions[first:first + 12] if d.alarm]
    # five times the usual rate is significant, but well below the peak two days ago
    assert max(d.score for d in decisions[hour]) > DetectorSettings().z_levels[0]
    assert max(d.evidence["prominence"] for d in decisions[hour]) < 0.7
    assert all(d.level == 0 for d in decisions[hour])
    assert [d for d in decisions[bigger:bigger + 12] if d.alarm]
    quiet = decisions[750:first] + decisions[first + 300:bigger]
    assert not any(d.alarm for d in quiet)


def test_state_of_an_older_layout_is_refused() -> None:
    det = BurstDetector()
    det.observe(T0, 3)
    state = det.to_state()
    with pytest.raises(ValueError):
        BurstDetector.from_state({**state, "v": 1})


class _Slow(BurstDetector):
    """The detector without its silent-stretch shortcut (the reference)."""

    silent = 0

    def _close_silent(self, steps: int) -> None:
        self.silent += steps
        for _ in range(steps):
            self._close_bucket()


@pytest.mark.parametrize("seed", range(3))
def test_a_long_silence_is_closed_exactly_as_bucket_by_bucket(seed: int) -> None:
    """A report after weeks of quiet (or a backlog of old ones) skips the general loop
    over the silent buckets, and every decision after it is the same to the last bit."""
    rng = random.Random(seed)
    fast, slow = BurstDetector(), _Slow()
    at = T0
    for _ in range(25):
        at += timedelta(minutes=rng.choice([1, 7, 30, 300, 3 * 1440, 20 * 1440, 90 * 1440]))
        count = rng.choice([1, 1, 2, 5])
        for det in (fast, slow):
            det.arrival(at, count)
        assert fast.tick(at) == slow.tick(at)
        assert fast.to_state() == slow.to_state()
    assert slow.silent > 10_000  # the shortcut was taken, over months of silence

