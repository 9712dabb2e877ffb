"""Connector discovery: every connector type is an entry point in the
`aggregator.connectors` group, so a new channel is a new package, not a core edit.
Only the types a config uses are imported (a channel library can be heavy).
`register()` adds one programmatically (embedding, tests).

Classes are typed `Any` on purpose: the config loader uses this module to find each
connector's settings model, and the connector base imports the config, so naming the
base here would tie the two in a loop. `aggregator.runtime.service` checks the type."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "aggregator.connectors"

_registered: dict[str, type[Any]] = {}
_loaded: dict[str, type[Any]] = {}


class PluginError(LookupError):
    pass


def available() -> list[str]:
    """Names of every installed or registered connector type."""
    return sorted({ep.name for ep in entry_points(group=GROUP)} | set(_registered))


def connector_type(name: str) -> type[Any]:
    """The connector class for a type name; PluginError says why not."""
    if name in _registered:
        return _registered[name]
    if name not in _loaded:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
        if not found:
            known = ", ".join(available()) or "none installed"
            raise PluginError(f"unknown connector type {name!r} ({known})")
        try:
            _loaded[name] = found[0].load()
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"connector type {name!r} failed to load ({type(exc).__name__}: {exc})"
            ) from exc
    return _loaded[name]


def register(type_name: str, cls: type[Any]) -> None:
    _registered[type_name] = cls
