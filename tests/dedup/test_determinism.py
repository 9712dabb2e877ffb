"""Two replicas judge a pair alike: a verdict must not follow the process's hash seed
(the order a set of words is walked in)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from aggregator.dedup.similarity import topic_similarity
pairs = [
    ({"antrian", "antrean", "panjang", "loket", "imigrasi", "bandara"},
     {"antriyan", "panjang", "lokett", "imigrasi", "kedatangan"}),
    ({"pemadaman", "pemadamam", "listrik", "kecamatan", "tanjung", "sengon"},
     {"pemadamn", "listrk", "tanjung", "kemurang", "wetan", "pangkalan"}),
]
print([repr(topic_similarity(frozenset(a), frozenset(b))) for a, b in pairs])
"""


def similarity_under(seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True,
                          capture_output=True, text=True).stdout


def test_the_same_words_score_the_same_in_every_process():
    assert len({similarity_under(seed) for seed in range(8)}) == 1
