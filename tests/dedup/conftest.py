"""Shared fixtures of the near-duplicate tests."""

from __future__ import annotations

import pytest

from aggregator.dedup import build_matcher
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline


@pytest.fixture
async def ingest(sessions, settings):
    """Submit one report through the real pipeline with matching on; its result."""
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))

    async def submit(r):
        (result,) = await ingestor.submit([r])
        return result

    yield submit
    await ingestor.close()
