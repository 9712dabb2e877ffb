"""Learn the weights of the near-duplicate evidence from labelled sets.

    pip install scikit-learn   # for training only; the service reads the weights
    python bench/dedup_train.py [--parts A,B,C] [--precision 0.97] [--out FILE]

Every pair of reports of one labelled part sent within `PAIR_DAYS` of each other,
sharing a candidate key and not settled by the written rules (the pairs the model is
asked about) is an example (same
cluster or not), described by `pairs.pair_features`; so are pairs of reports of two
different parts as if sent at one moment (`crowd`: a busy day's unrelated complaints). A logistic
regression on standardised features is fitted on the given parts (the tuning parts:
never the held-out ones); the standardisation is folded into the weights, so the
service computes one dot product. The threshold is chosen out of fold: each part is
scored by a model fitted on the others, and the lowest threshold at which those
pooled scores reach `--precision` pairwise is kept, unless `--threshold` is given.
The bundled model: `--threshold 0.8`, chosen end to end (bench/dedup_eval.py on the
tuning parts, where a ticket's precision is below its pairs' as tickets chain). Writes
`aggregator/dedup/data/pair_model.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.config import parse  # noqa: E402
from aggregator.dedup.evaluate import load, to_reports  # noqa: E402
from aggregator.dedup.features import Doc, extract  # noqa: E402
from aggregator.dedup.keys import index_keys, query_keys  # noqa: E402
from aggregator.dedup.pairs import NAMES, pair_features  # noqa: E402
from aggregator.dedup.verdict import settled_by_rules  # noqa: E402

DATA = ROOT / "bench" / "data" / "dedup"
OUT = ROOT / "aggregator" / "dedup" / "data" / "pair_model.json"
OWN = ROOT / "tests" / "data" / "dedup_labelled.jsonl"  # the suite's set: lat/lon, one place
PAIR_DAYS = 14
C = 0.3  # regularisation: the parts are few, the writers' habits many
CROWD = 2000  # busy-day negatives per two parts


def _records(part: str) -> list[dict[str, Any]]:
    """`part`: a letter of bench/data/dedup, or a path."""
    return load(DATA / f"part_{part}.jsonl" if "/" not in part else ROOT / part)


def _docs(records: list[dict[str, Any]], at: datetime | None = None) -> list[Doc]:
    reports = to_reports(records, datetime.now(UTC))
    return [extract(r.text, title=r.title, author=r.author, meta=r.meta,
                    at=at or r.sent_at) for r in reports]


def examples(part: str) -> tuple[np.ndarray, np.ndarray]:
    records = _records(part)
    cfg = parse({}, base_dir=Path("/tmp"), env={}).dedup
    docs = _docs(records)
    stored = [set(index_keys(d)) for d in docs]
    x, y = [], []
    for j, new in enumerate(records):
        asked = set(query_keys(docs[j]))
        for i in range(j):
            if new["hours"] - records[i]["hours"] > PAIR_DAYS * 24:
                continue
            if not asked & stored[i] or settled_by_rules(docs[j], docs[i], cfg):
                continue  # never a candidate, or the rules decide: the model is not asked
            x.append(pair_features(docs[j], docs[i], cfg.time_window_hours, cfg.near_km))
            y.append(records[i]["cluster"] == new["cluster"])
    return np.array(x), np.array(y)


def crowd(parts: list[str], per_pair: int = CROWD) -> np.ndarray:
    """Negatives of a busy fortnight: reports of two different parts (different
    incidents, different writers) as if each had been sent at a random moment of the
    same PAIR_DAYS, where they share a candidate key. Within one labelled set a report
    minutes after another is nearly always about the same incident (a set holds a few
    reports a day); an agency gets many unrelated complaints an hour, and these pairs
    teach the model that base rate, so closeness in time only counts as far as it is
    evidence."""
    blocks = [_crowd_block(p, q, per_pair) for p in parts for q in parts if p < q]
    return np.vstack(blocks) if blocks else np.zeros((0, len(NAMES)))


@cache
def _crowd_docs(part: str) -> tuple[Doc, ...]:
    """A part's reports at random moments of one fortnight (the same for every fold)."""
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rng = np.random.default_rng(zlib.crc32(part.encode()))
    records = _records(part)
    return tuple(_docs([r], at=start + timedelta(hours=float(h)))[0] for r, h in
                 zip(records, rng.uniform(0, PAIR_DAYS * 24, len(records)), strict=True))


@cache
def _crowd_block(p: str, q: str, per_pair: int) -> np.ndarray:
    """The crowd's pairs of two parts (computed once: every fold asks for most)."""
    cfg = parse({}, base_dir=Path("/tmp"), env={}).dedup
    rng = np.random.default_rng(zlib.crc32(f"{p}|{q}".encode()))
    docs_p, docs_q = _crowd_docs(p), _crowd_docs(q)
    asked = [set(query_keys(a)) for a in docs_p]
    stored = [set(index_keys(d)) for d in docs_q]
    pairs = [(a, b) for a, keys_a in zip(docs_p, asked, strict=True)
             for b, keys in zip(docs_q, stored, strict=True) if keys_a & keys]
    x: list[list[float]] = []
    for k in rng.permutation(len(pairs))[:per_pair]:
        a, b = pairs[k] if pairs[k][0].at >= pairs[k][1].at else pairs[k][::-1]
        if settled_by_rules(a, b, cfg):
            continue
        x.append(pair_features(a, b, cfg.time_window_hours, cfg.near_km))
    return np.array(x).reshape(-1, len(NAMES))


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and intercept on the raw features (the scaler folded in)."""
    seen = x.std(axis=0) > 0  # evidence the sets never show gets no weight
    scaler = StandardScaler().fit(x[:, seen])
    model = LogisticRegression(C=C, max_iter=5000).fit(scaler.transform(x[:, seen]), y)
    coef = np.zeros(x.shape[1])
    coef[seen] = model.coef_[0] / scaler.scale_
    return coef, float(model.intercept_[0] - np.sum(coef[seen] * scaler.mean_))


def score(coef: np.ndarray, intercept: float, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))


def threshold_for(scores: np.ndarray, y: np.ndarray, precision: float) -> float:
    for th in np.arange(0.30, 0.99, 0.01):
        predicted = scores >= th
        if predicted.sum() and (predicted & y).sum() / predicted.sum() >= precision:
            return round(float(th), 2)
    return 0.99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="A,B,C," + str(OWN.relative_to(ROOT)))
    ap.add_argument("--precision", type=float, default=0.91)
    ap.add_argument("--threshold", type=float, default=None,
                    help="write this bar instead (chosen end to end with dedup_eval.py "
                         "on the tuning parts: tickets chain, so pairs are not tickets)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    parts = args.parts.split(",")
    data = {p: examples(p) for p in parts}
    out_of_fold, truth = [], []
    for p in parts:
        rest = [q for q in parts if q != p]
        busy = crowd(rest)
        coef, b = fit(np.vstack([data[q][0] for q in rest] + [busy]),
                      np.concatenate([data[q][1] for q in rest] + [np.zeros(len(busy), bool)]))
        out_of_fold.append(score(coef, b, data[p][0]))
        truth.append(data[p][1])
    threshold = threshold_for(np.concatenate(out_of_fold), np.concatenate(truth),
                              args.precision)
    print(f"out of fold: pairwise precision {args.precision} from {threshold}")
    if args.threshold is not None:
        threshold = args.threshold
    busy = crowd(parts)
    x_all = np.vstack([data[p][0] for p in parts] + [busy])
    y_all = np.concatenate([data[p][1] for p in parts] + [np.zeros(len(busy), bool)])
    coef, b = fit(x_all, y_all)
    scored = {p: score(coef, b, data[p][0]) for p in parts}
    for name, c in sorted(zip(NAMES, coef, strict=True), key=lambda t: -abs(t[1])):
        print(f"  {name:18s} {c:+.3f}")
    for p in parts:
        s, y = scored[p] >= threshold, data[p][1]
        print(f"part {p} (fitted on it): pairs P {(s & y).sum() / max(s.sum(), 1):.3f} "
              f"R {(s & y).sum() / y.sum():.3f}")
    Path(args.out).write_text(json.dumps({
        "features": list(NAMES), "weights": [round(float(c), 5) for c in coef],
        "intercept": round(b, 5), "threshold": threshold, "trained_on": parts,
    }, indent=1) + "\n")
    print(f"threshold {threshold}; wrote {args.out}")


if __name__ == "__main__":
    main()
