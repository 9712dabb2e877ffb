"""Signals as a feature: the engagement section of the ticket detail."""

from __future__ import annotations

from aggregator.runtime.features import Feature
from aggregator.signals.sections import engagement
from aggregator.tickets.query import Section


class SignalsFeature(Feature):
    name = "signals"

    def sections(self) -> dict[str, Section]:
        return {"engagement": engagement}
