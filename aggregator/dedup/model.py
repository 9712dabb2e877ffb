"""The learned verdict: how likely two reports are one incident, from their evidence.

The model lives in `data/pair_model.json`, written by `bench/dedup_train.py` from
labelled sets: the weights of a logistic regression, so the service computes one dot
product and needs no learning library. (Boosted trees scored more recall on parts
they were not fitted on, but learned the sets' bursts too well: six simultaneous power
cuts at six named places became one ticket.) A model file whose feature names differ
from `pairs.NAMES` was trained on other evidence and is refused at start-up rather
than silently misread.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.dedup.pairs import NAMES

MODEL_FILE = Path(__file__).with_name("data") / "pair_model.json"
_MARGIN = 1e-9


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True, slots=True)
class PairModel:
    weights: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, features: list[float]) -> float:
        return _sigmoid(self.intercept + sum(
            w * x for w, x in zip(self.weights, features, strict=True)))

    def ceiling(self, known: dict[str, float]) -> float:
        """The highest probability the features missing from `known` (each in [0, 1],
        as `pairs.COSTLY` are) could give: below the bar, the answer is "no" without
        computing them. A hair above the exact bound, so summing in another order
        cannot turn a "yes" into a "no"."""
        z = self.intercept + sum(w * known[name] if name in known else max(w, 0.0)
                                 for name, w in zip(NAMES, self.weights, strict=True))
        return _sigmoid(z + _MARGIN)


@functools.lru_cache(maxsize=4)
def model_at(path: Path) -> PairModel:
    return load_model(path)


def load_model(path: Path) -> PairModel:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["features"]) != NAMES:
        raise ValueError(f"{path}: the model's features {raw['features']} are not "
                         f"the ones this version computes; retrain it")
    return PairModel(tuple(float(w) for w in raw["weights"]), float(raw["intercept"]),
                  float(raw["threshold"]))
