"""The engagement stream of a ticket: how fast its posts are being shared, as a second
burst detector beside the report stream.

The X connector stores each post's cumulative public counters at sample time
(`engagement_samples`). What matters for "is this blowing up" is the *flow*: the
difference between two consecutive samples of one post, counted at the later sample's
time (when it was seen). The first sample of a post is its starting point, not a flow:
a post that already had thousands of likes when we first saw it did not just get them.
A counter that goes down (an unlike, a deleted retweet) adds nothing.

Counters are weighted into one number per delta (WEIGHTS), because they say different
things about spread:
- a retweet or a quote puts the complaint in front of another person's followers, and
  a quote adds a voice of its own: weight 1 each, the unit of the stream;
- a reply is someone taking part in the conversation, and replies are what the press
  and officials read under a complaint: weight 1 too;
- a like is one click that spreads nothing by itself (X shows it to few followers) and
  likes come 5-10 times as often as retweets: weight 0.2, so they count but do not
  dominate;
- an impression is a view, passive, and comes hundreds of times as often as any
  interaction: weight 0.002 (a thousand views are worth two retweets), enough to see
  a post that is being read widely without being shared.

The detector is the same as the report stream's (windows of 15 min to 6 h, baseline
learnt online, negative binomial scores, levels by z and growth), with a cold start
fitted to engagement volumes (ENGAGEMENT_SETTINGS): a complaint tweet that a few people
share is normal, so the prior expects 30 weighted interactions an hour, never less than
10, and nothing below 150 in six hours is a burst. The prior is worth six hours of data
(the report stream's, one hour): a post goes viral young, while its stream is still
new, and with a one-hour prior the burst itself was learnt as normal within the hour
(a post shared 480 times an hour for two hours, sampled every 15 minutes, was at
level 1 for 10 minutes; with six hours, for 105, and steady growth of 40 or 90 an hour
for two days still never leaves level 0). A tweet whose retweets jump by thousands
within an hour is far beyond that; one that grows by a handful every few minutes is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aggregator.virality.detector import BurstDetector, Decision, DetectorSettings

WEIGHTS: dict[str, float] = {
    "retweet_count": 1.0, "quote_count": 1.0, "reply_count": 1.0,
    "like_count": 0.2, "impression_count": 0.002,
}
ENGAGEMENT_SETTINGS = DetectorSettings(
    prior_rate_per_hour=30.0, floor_rate_per_hour=10.0, prior_dispersion=0.5,
    min_count=150.0, prior_weight=72.0,
)
MAX_POSTS = 500  # posts remembered per ticket (their last counters), newest kept


def weighted_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> float:
    """Weighted growth of the counters from one sample to the next (never negative
    per counter)."""
    total = 0.0
    for name, weight in WEIGHTS.items():
        new, old = after.get(name), before.get(name)
        if isinstance(new, int | float) and isinstance(old, int | float) and new > old:
            total += weight * (new - old)
    return total


@dataclass(frozen=True, slots=True)
class Sample:
    id: int
    post: int  # the report the post belongs to
    at: datetime
    metrics: Mapping[str, Any]


@dataclass
class EngagementStream:
    """The detector with what it needs to turn cumulative samples into deltas."""

    detector: BurstDetector
    last_sample_id: int = 0
    posts: dict[str, dict[str, float]] = field(default_factory=dict)  # last counters

    @classmethod
    def start(cls, state: Mapping[str, Any] | None,
              settings: DetectorSettings = ENGAGEMENT_SETTINGS) -> EngagementStream:
        """From a saved state; a missing or unreadable one starts from the prior (an
        older row saved before this stream existed)."""
        if state:
            try:
                return cls(BurstDetector.from_state(dict(state["detector"]), settings),
                           int(state["last_sample_id"]),
                           {str(k): dict(v) for k, v in state["posts"].items()})
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
        return cls(BurstDetector(settings))

    def feed(self, samples: Iterable[Sample], now: datetime) -> None:
        """New samples (any order; ids above `last_sample_id`) into the detector."""
        for s in sorted(samples, key=lambda s: (s.at, s.id)):
            key = str(s.post)
            before = self.posts.get(key)
            counters = {k: float(v) for k, v in s.metrics.items()
                        if k in WEIGHTS and isinstance(v, int | float)}
            if before is not None:
                delta = weighted_delta(before, counters)
                if delta > 0:
                    self.detector.arrival(min(s.at, now), delta)
                counters = {k: max(v, before.get(k, v)) for k, v in counters.items()}
            self.posts.pop(key, None)
            self.posts[key] = counters  # newest last, so the oldest go first
            self.last_sample_id = max(self.last_sample_id, s.id)
        while len(self.posts) > MAX_POSTS:
            self.posts.pop(next(iter(self.posts)))

    def tick(self, now: datetime) -> Decision:
        return self.detector.tick(now)

    def to_state(self) -> dict[str, Any]:
        return {"detector": self.detector.to_state(), "last_sample_id": self.last_sample_id,
                "posts": self.posts}
