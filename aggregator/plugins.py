"""Connector discovery: every connector type is an entry point in the
`aggregator.connectors` group, so a new channel is a new package, not a core edit."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.connector import Connector

GROUP = "aggregator.connectors"


@functools.cache
def connector_types() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except ImportError:
            # A connector whose module is not present yet (or fails to import)
            # is simply not offered; `check-config` will name it as unknown.
            continue
    return found
