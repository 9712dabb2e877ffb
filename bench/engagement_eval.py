"""The engagement stream's detector on synthetic share curves: when does it alarm?

    python bench/engagement_eval.py

Each scenario is a post's weighted engagement (aggregator/virality/engagement.py,
WEIGHTS) per minute, sampled every 5 or 15 minutes as the X connector does for young
posts (a sample carries everything since the previous one, at its own time), with the
watch's tick every 5 minutes; bursts start at minute 30 of the post's stream. Printed
per scenario: when the level first reached 1 (minutes from the stream's start),
the highest level, how long it stayed at 1 or more, and when it last was. Run for the
shipped settings and, beside them, for the same settings with the report stream's
one-hour prior weight, which is what the six-hour prior was chosen against.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.virality.detector import BurstDetector, DetectorSettings  # noqa: E402
from aggregator.virality.engagement import ENGAGEMENT_SETTINGS  # noqa: E402

T0 = datetime(2026, 11, 30, tzinfo=UTC)
Rate = Callable[[int], float]  # weighted interactions in minute m

SCENARIOS: list[tuple[str, Rate, int, bool]] = [  # name, rate, minutes, should alarm
    ("viral: 6000/h for 2 h", lambda m: 100.0 if 30 <= m < 150 else 0.0, 24 * 60, True),
    ("local stir: 480/h for 2 h", lambda m: 8.0 if 30 <= m < 150 else 0.0, 24 * 60, True),
    ("small: 180/h for 1 h", lambda m: 3.0 if 30 <= m < 90 else 0.0, 24 * 60, False),
    ("steady 40/h for 2 days", lambda m: 40 / 60, 48 * 60, False),
    ("steady 90/h for 2 days", lambda m: 90 / 60, 48 * 60, False),
]


def run(settings: DetectorSettings, rate: Rate, minutes: int, every: int) -> list[int]:
    det, pending, levels = BurstDetector(settings), 0.0, []
    for m in range(minutes):
        pending += rate(m)
        at = T0 + timedelta(minutes=m)
        if m % every == 0 and pending > 0:
            det.arrival(at, pending)
            pending = 0.0
        if m % 5 == 0:
            levels.append(det.tick(at).level)
    return levels


def main() -> None:
    one_hour = replace(ENGAGEMENT_SETTINGS, prior_weight=12.0)
    print(f"{'scenario':28} {'sampled':>8}  {'prior':>6}  first>=1  max  minutes>=1  "
          "as wanted")
    for name, rate, minutes, wanted in SCENARIOS:
        for every in (5, 15):
            for label, settings in (("6 h", ENGAGEMENT_SETTINGS), ("1 h", one_hour)):
                levels = run(settings, rate, minutes, every)
                up = [i * 5 for i, lv in enumerate(levels) if lv >= 1]
                first = f"{up[0]} min" if up else "-"
                ok = (len(up) >= 6) == wanted  # at least half an hour, when it should
                print(f"{name:28} {every:>6} m  {label:>6}  {first:>8}  {max(levels):>3}  "
                      f"{len(up) * 5:>10}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
