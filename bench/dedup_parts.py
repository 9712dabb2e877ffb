"""Run the near-duplicate quality evaluation over many labelled parts and pool them.

    python bench/dedup_parts.py [--jobs 2] [--model FILE] PART.jsonl ...

Each part goes through `bench/dedup_eval.py --ingest 0 --sizes ''` in its own process
(at most --jobs at a time); the figures are read from its output line. Pooled
precision is the sum of right predicted pairs over the sum predicted, pooled recall
the sum right over the sum of true pairs. Parts are grouped by the letter ranges in
--groups ("A-J,K-P,Q-S,T-Y,Z-AA,AB-AC": after Z come AA, AB...).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"\((\d+)/(\d+) predicted pairs right, (\d+)/(\d+) true pairs found")


def run(part: Path, model: str | None = None) -> tuple[str, int, int, int, int]:
    out = subprocess.run(
        [sys.executable, str(HERE / "dedup_eval.py"), "--labelled", str(part),
         "--ingest", "0", "--sizes", "", *(["--model", model] if model else [])],
        capture_output=True, text=True, check=True).stdout
    m = LINE.search(out)
    if m is None:
        raise SystemExit(f"{part}: no figures in output:\n{out}")
    right, predicted, found, true = map(int, m.groups())
    return part.stem.removeprefix("part_"), right, predicted, found, true


def fmt(name: str, right: int, predicted: int, found: int, true: int) -> str:
    p = right / predicted if predicted else 1.0
    r = found / true if true else 1.0
    return f"{name:>5}  P {p:.4f} ({right}/{predicted})  R {r:.4f} ({found}/{true})"


def order(part: str) -> tuple[int, str]:
    """Parts run A..Z, then AA, AB...: by length, then by letters."""
    return len(part), part


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", nargs="+", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--groups", default="A-J,K-P,Q-S,T-Y,Z-AA,AB-AC")
    ap.add_argument("--model", help="a pair model file (default: the bundled one)")
    args = ap.parse_args()
    start = time.monotonic()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda p: run(p, args.model), args.parts))
    elapsed = time.monotonic() - start
    for group in args.groups.split(","):
        lo, _, hi = group.partition("-")
        rows = [r for r in results if order(lo) <= order(r[0]) <= order(hi or lo)]
        if not rows:
            continue
        for row in rows:
            print(fmt(*row))
        sums = [sum(r[i] for r in rows) for i in range(1, 5)]
        print(fmt(group, *sums), " <- pooled")
    print(f"{elapsed:.1f} s")


if __name__ == "__main__":
    main()
