"""Connector discovery: every connector type is an entry point in the
`aggregator.connectors` group, so a new channel is a new package, not a core edit.
`register()` adds one programmatically (embedding, tests)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.connector import Connector

GROUP = "aggregator.connectors"

_registered: dict[str, type[Connector]] = {}
_loaded: dict[str, type[Connector]] | None = None
# Types whose entry point exists but failed to import, with the reason.
load_errors: dict[str, str] = {}


def connector_types() -> dict[str, type[Connector]]:
    global _loaded
    if _loaded is None:
        _loaded = {}
        for ep in entry_points(group=GROUP):
            try:
                _loaded[ep.name] = ep.load()
            except (ImportError, AttributeError) as exc:
                load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
    return {**_loaded, **_registered}


def register(type_name: str, cls: type[Connector]) -> None:
    _registered[type_name] = cls
