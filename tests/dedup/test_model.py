"""An operator's own model file: used when configured, refused when it does not fit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import ConfigError, parse
from aggregator.dedup.features import extract
from aggregator.dedup.model import MODEL_FILE, load_model
from aggregator.dedup.pairs import NAMES
from aggregator.dedup.verdict import compare

NOW = datetime(2026, 5, 4, 9, tzinfo=UTC)
QUEUE = "Mesin antrian di RSUD Kota Bekasi rusak sejak pagi, pasien menumpuk"
OTHER = "Lampu jalan di Jalan Ahmad Yani Bekasi mati semua sejak kemarin malam"


def write_model(path: Path, intercept: float, features: list[str] | None = None) -> Path:
    names = list(NAMES) if features is None else features
    path.write_text(json.dumps({"features": names, "weights": [0.0] * len(names),
                                "intercept": intercept, "threshold": 0.5}))
    return path


def test_a_configured_model_decides(tmp_path):
    a, b = extract(QUEUE, at=NOW), extract(OTHER, at=NOW + timedelta(hours=1))
    bundled = parse({}, base_dir=tmp_path, env={}).dedup
    assert not compare(b, a, bundled).same  # two problems, two places
    lenient = write_model(tmp_path / "lenient.json", intercept=5.0)
    cfg = parse({"dedup": {"model": "lenient.json"}}, base_dir=tmp_path, env={}).dedup
    assert cfg.model == lenient.resolve()
    assert compare(b, a, cfg).same  # a model that merges everything is obeyed


def test_a_model_for_other_evidence_is_refused(tmp_path):
    bad = write_model(tmp_path / "old.json", 0.0, features=["text", "place_same"])
    with pytest.raises(ValueError, match="retrain"):
        load_model(bad)
    assert load_model(MODEL_FILE).threshold > 0  # the bundled one fits


def test_threshold_out_of_range_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="dedup.threshold"):
        parse({"dedup": {"threshold": 1.5}}, base_dir=tmp_path, env={})
