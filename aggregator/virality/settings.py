"""`virality` in config.yaml: the burst watch over open tickets."""

from __future__ import annotations

from datetime import timedelta

from aggregator.sections import Duration, Section


class ViralitySettings(Section):
    enabled: bool = True
    interval: Duration = timedelta(seconds=10)  # how often detectors see the clock
