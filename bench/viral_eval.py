"""Burst detector on NAB realTweets: NAB standard-profile score, detections and delays.

    python bench/viral_eval.py [--data DIR] [--detections-out FILE] [--sanity] [--loo]

Runs aggregator.virality.detector (imported from this checkout) with its default
settings, one setting for every series, over each `Twitter_volume_*.csv` in DIR (default
../shared/data/nab-realtweets). A detection is the onset of an episode (the first alarm;
later alarms of the same episode are escalations of something already reported). The
detections are scored as NAB does (nab/sweeper.py):
probation = min(floor(15 % of rows), 750) rows, not scored; inside a window only the
earliest detection counts, worth tp * (2*sigmoid(-5x) - 1) / (2*sigmoid(5) - 1) with x
from -1 at the window's start to 0 past its end; a window without detection costs -fn; a
detection outside windows costs fp * (2*sigmoid(-5y) - 1), y its distance past the
previous window's end in that window's widths (-fp if none came before, or y >= 3);
score = 100 * (raw - null) / (perfect - null), raw, null and perfect summed over files.

--loo: leave-one-out over the series for the two chosen settings (the window lengths and
the level-1 score): for each series, the grid point best on the other series is scored on
it; the mean of those held-out scores estimates the score on unseen series. "Best" is the
pooled score averaged with the neighbouring thresholds, so a point next to a cliff (where
one series loses a window) is not chosen. The same rule on all series gives the defaults.
--sanity also scores a windowed-Gaussian baseline (|z| against the previous 1000 rows,
every row over the threshold a detection) at a few thresholds: at its best threshold,
as NAB chooses it, the scorer should put it where NAB puts windowed Gaussian (55.0 on
these seven series).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.virality import detector as detector_module  # noqa: E402
from aggregator.virality.detector import BurstDetector, DetectorSettings  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab-realtweets"
LOO_SCALES = ((1, 3, 12, 36), (3, 12, 36, 72))  # window-length sets compared
LOO_Z = tuple(round(1.8 + 0.1 * i, 1) for i in range(11))  # level-1 scores compared
LOO_NEAR = 0.2  # "best" averages the pooled score over thresholds this close
STANDARD = {"tp": 1.0, "fp": 0.11, "fn": 1.0}  # nab_profiles.json "standard"
SANITY_Z = (8.0, 10.0, 12.0, 15.0, 20.0)  # NAB picks the best threshold over the corpus

Window = tuple[datetime, datetime]


def scaled_sigmoid(x: float) -> float:
    """NAB's scaledSigmoid: ~0.987 at -1 (window start), 0 at 0, -1 from 3 on."""
    return -1.0 if x >= 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


@dataclass
class FileScore:
    """NAB score parts of one series; the tuple of (raw, null, perfect) adds up over files."""

    name: str
    raw: float = 0.0
    null: float = 0.0
    perfect: float = 0.0
    windows: int = 0
    hits: int = 0
    false_alarms: int = 0
    fp_cost: float = 0.0  # sum of FP penalties (negative)
    late_cost: float = 0.0  # sum over hit windows of tp - credit (how late they were)
    delays_min: list[float] = field(default_factory=list)  # window start -> 1st detection
    label_delays_min: list[float] = field(default_factory=list)  # label -> 1st detection
    missed: list[str] = field(default_factory=list)  # start of each window not detected

    @property
    def score(self) -> float:
        return normalised(self.raw, self.null, self.perfect)


def normalised(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def nab_score(name: str, stamps: Sequence[datetime], detected: set[int],
              windows: Sequence[Window], labels: Sequence[datetime] = (),
              weights: dict[str, float] | None = None) -> FileScore:
    """Score detections (row indices) on one series exactly as NAB's Sweeper does."""
    w = weights or STANDARD
    n = len(stamps)
    probation = min(math.floor(0.15 * n), 0.15 * 5000)
    index = {t: i for i, t in enumerate(stamps)}
    spans = sorted((index[a], index[b]) for a, b in windows)
    max_tp = scaled_sigmoid(-1.0)
    out = FileScore(name)
    credit: dict[int, float] = {}  # window number -> best credit so far
    prev_right: int | None = None
    prev_width = 0.0
    cur = 0  # next window to enter
    inside: int | None = None
    for i in range(n):
        if inside is None and cur < len(spans) and i == spans[cur][0]:
            inside, cur = cur, cur + 1
        if inside is not None:
            left, right = spans[inside]
            width = float(right - left + 1)
            value = scaled_sigmoid(-(right - i + 1) / width) * w["tp"] / max_tp
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            value = scaled_sigmoid(past) * w["fp"]
        if i >= probation:
            if inside is not None:
                credit.setdefault(inside, -w["fn"])
                if i in detected and value > credit[inside]:
                    if credit[inside] == -w["fn"]:
                        _record_delay(out, stamps, i, spans[inside], labels)
                    credit[inside] = value
            elif i in detected:
                out.false_alarms += 1
                out.fp_cost += value
        if inside is not None and i == spans[inside][1]:
            prev_right, prev_width, inside = i, float(spans[inside][1] - spans[inside][0] + 1), None
    out.windows = len(credit)
    out.missed = [str(stamps[spans[k][0]]) for k, c in sorted(credit.items()) if c == -w["fn"]]
    out.hits = sum(1 for c in credit.values() if c != -w["fn"])
    out.late_cost = sum(w["tp"] - c for c in credit.values() if c != -w["fn"])
    out.raw = sum(credit.values()) + out.fp_cost
    out.null = -w["fn"] * len(credit)
    out.perfect = w["tp"] * len(credit)
    return out


def _record_delay(out: FileScore, stamps: Sequence[datetime], i: int, span: tuple[int, int],
                  labels: Sequence[datetime]) -> None:
    out.delays_min.append((stamps[i] - stamps[span[0]]).total_seconds() / 60.0)
    for label in labels:
        if stamps[span[0]] <= label <= stamps[span[1]]:
            out.label_delays_min.append((stamps[i] - label).total_seconds() / 60.0)
            break


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def load_series(path: Path) -> tuple[list[str], list[datetime], list[float]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return ([r["timestamp"] for r in rows], [parse_time(r["timestamp"]) for r in rows],
            [float(r["value"]) for r in rows])


def run_detector(stamps: Sequence[datetime], values: Sequence[float],
                 settings: DetectorSettings) -> set[int]:
    """Feed the series row by row; a detection is every row where an episode starts."""
    det = BurstDetector(settings)
    return {i for i, (t, v) in enumerate(zip(stamps, values, strict=True))
            if det.observe(t, v).onset}


def gaussian_baseline(values: Sequence[float], z_min: float, size: int = 1000) -> set[int]:
    """Windowed-Gaussian-like sanity detector: |z| against the previous `size` rows."""
    found: set[int] = set()
    total = total_sq = 0.0
    for i, v in enumerate(values):
        k = min(i, size)
        if k > 1:
            mean = total / k
            sd = math.sqrt(max(total_sq / k - mean * mean, 1e-12))
            if abs(v - mean) / sd >= z_min:
                found.add(i)
        total, total_sq = total + v, total_sq + v * v
        if i >= size:
            old = values[i - size]
            total, total_sq = total - old, total_sq - old * old
    return found


def summary(title: str, scores: Sequence[FileScore]) -> str:
    raw = sum(s.raw for s in scores)
    null = sum(s.null for s in scores)
    perfect = sum(s.perfect for s in scores)
    delays = [d for s in scores for d in s.delays_min]
    label = [d for s in scores for d in s.label_delays_min]
    med = f"{statistics.median(delays):7.0f}" if delays else "      -"
    lab = f"{statistics.median(label):+7.0f}" if label else "      -"
    return (f"{title:<24}{normalised(raw, null, perfect):7.1f}"
            f"{sum(s.hits for s in scores):4d}/{sum(s.windows for s in scores):<3d}"
            f"{sum(s.false_alarms for s in scores):5d}{med}{lab}")


Series = tuple[str, list[datetime], list[float], list[Window], list[datetime]]


def load_all(data: Path) -> tuple[list[Series], list[list[str]]]:
    """Every series in `data` with its windows and labels (and its raw timestamps)."""
    all_windows = json.loads((data / "windows.json").read_text())
    labels_path = data / "labels.json"
    all_labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    series: list[Series] = []
    texts: list[list[str]] = []
    for path in sorted(data.glob("Twitter_volume_*.csv")):
        raw, stamps, values = load_series(path)
        windows = [(parse_time(a), parse_time(b)) for a, b in all_windows.get(path.name, [])]
        labels = [parse_time(t) for t in all_labels.get(path.name, [])]
        series.append((path.name, stamps, values, windows, labels))
        texts.append(raw)
    return series, texts


def short(name: str) -> str:
    return name.removeprefix("Twitter_volume_").removesuffix(".csv")


def pooled(scores: Sequence[FileScore]) -> float:
    return normalised(sum(s.raw for s in scores), sum(s.null for s in scores),
                      sum(s.perfect for s in scores))


def leave_one_out(series: Sequence[Series]) -> None:
    """Choose (scales, level-1 score) on all series but one, score that one; print all."""
    base = DetectorSettings()
    grid: dict[tuple[tuple[int, ...], float], dict[str, FileScore]] = {}
    for scales in LOO_SCALES:
        for z in LOO_Z:
            settings = replace(base, scales=scales, z_levels=(z, *base.z_levels[1:]))
            grid[scales, z] = {name: nab_score(name, st, run_detector(st, v, settings), w, lb)
                               for name, st, v, w, lb in series}

    def choose(names: Sequence[str]) -> tuple[tuple[int, ...], float]:
        def smoothed(key: tuple[tuple[int, ...], float]) -> float:
            scales, z = key
            near = [k for k in grid if k[0] == scales and abs(k[1] - z) <= LOO_NEAR + 1e-9]
            return statistics.mean(pooled([grid[k][n] for n in names]) for k in near)
        return max(grid, key=smoothed)

    names = [s[0] for s in series]
    held: list[FileScore] = []
    print(f"\nleave-one-out over {len(LOO_SCALES)} x {len(LOO_Z)} settings "
          f"(scales x level-1 score)")
    for name in names:
        key = choose([n for n in names if n != name])
        held.append(grid[key][name])
        print(f"  {short(name):<6} held out: chose scales={key[0]} z={key[1]:.1f} -> "
              f"{grid[key][name].score:5.1f}")
    print(f"  LOO mean of held-out scores {statistics.mean(s.score for s in held):5.1f}, "
          f"pooled {pooled(held):5.1f}")
    key = choose(names)
    inside = list(grid[key].values())
    print(f"  in sample (all series): scales={key[0]} z={key[1]:.1f} -> mean "
          f"{statistics.mean(s.score for s in inside):5.1f}, pooled {pooled(inside):5.1f}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--detections-out", type=Path)
    ap.add_argument("--sanity", action="store_true", help="also score a Gaussian baseline")
    ap.add_argument("--loo", action="store_true", help="leave-one-out choice of settings")
    args = ap.parse_args(argv)
    series, texts = load_all(args.data)
    if not series:
        print(f"no Twitter_volume_*.csv in {args.data}", file=sys.stderr)
        return 2
    settings = DetectorSettings()
    print(f"detector: {detector_module.__file__}\nsettings: {settings}\n")
    elapsed = bare = 0.0
    scores: list[FileScore] = []
    baseline: dict[float, list[FileScore]] = {}
    detections_out: dict[str, list[str]] = {}
    for (name, stamps, values, windows, labels), raw in zip(series, texts, strict=True):
        started = time.perf_counter()
        found = run_detector(stamps, values, settings)
        elapsed += time.perf_counter() - started
        started = time.perf_counter()
        gaussian_baseline(values, SANITY_Z[0])
        bare += time.perf_counter() - started
        detections_out[name] = [raw[i] for i in sorted(found)]
        scores.append(nab_score(name, stamps, found, windows, labels))
        if args.sanity:
            for z in SANITY_Z:
                baseline.setdefault(z, []).append(
                    nab_score(name, stamps, gaussian_baseline(values, z), windows, labels))
    print(f"{'series':<24}{'score':>7}{'hits':>8}{'FP':>5}{'delay*':>7}{'vs lbl':>7}"
          f"{'late':>7}{'FPcost':>7}  first-detection delays (min from window start)")
    for s in scores:
        print(f"{short(s.name):<24}"
              f"{s.score:7.1f}{s.hits:4d}/{s.windows:<3d}{s.false_alarms:5d}"
              f"{statistics.median(s.delays_min) if s.delays_min else math.nan:7.0f}"
              f"{statistics.median(s.label_delays_min) if s.label_delays_min else math.nan:+7.0f}"
              f"{s.late_cost:7.2f}{s.fp_cost:7.2f}  {[round(d) for d in s.delays_min]}")
    print(f"\n{'set':<24}{'score':>7}{'hits':>8}{'FP':>5}{'delay*':>7}{'vs lbl':>7}")
    print(summary("all (pooled)", scores))
    print(f"mean of per-series scores {statistics.mean(s.score for s in scores):.1f}")
    print("* median minutes from window start to first detection; 'vs lbl' from the "
          "labelled anomaly time (negative = before it)")
    missed = sum(s.windows - s.hits for s in scores)
    span = sum(s.perfect - s.null for s in scores)
    print(f"\nwhat limits the figure (points out of 100 lost): missed windows "
          f"{100 * 2 * missed / span:.1f} ({missed}), lateness inside windows "
          f"{100 * sum(s.late_cost for s in scores) / span:.1f}, false alarms "
          f"{-100 * sum(s.fp_cost for s in scores) / span:.1f} "
          f"({sum(s.false_alarms for s in scores)})")
    for s in scores:
        if s.missed:
            print(f"  missed in {s.name}: windows starting {', '.join(s.missed)}")
    print("windows are 10 % of each file centred on the label, so a detection at the label "
          "earns ~0.85 and the delay from window start is hours by construction")
    for z, parts in sorted(baseline.items()):
        print(summary(f"sanity gaussian |z|>={z:g}", parts))
    rows = sum(len(s[2]) for s in series)
    print(f"\ndetector runtime: {elapsed:.1f} s for {len(series)} series, "
          f"{1e6 * elapsed / rows:.0f} us a row; {elapsed / bare:.0f} x a bare windowed "
          f"Gaussian ({1e6 * bare / rows:.1f} us a row) in the same run")
    if args.loo:
        leave_one_out(series)
    if args.detections_out:
        args.detections_out.write_text(json.dumps(detections_out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
