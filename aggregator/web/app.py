"""Builds the aiohttp application: core routes plus whatever connectors serve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from aggregator.web import admin, tickets
from aggregator.web.errors import json_errors
from aggregator.web.headers import security_headers
from aggregator.web.keys import SERVICE

if TYPE_CHECKING:
    from aggregator.service import Service


def build_app(service: Service) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, json_errors],
        client_max_size=service.settings.web.max_body_bytes,
    )
    app[SERVICE] = service
    app.add_routes(admin.routes)
    app.add_routes(tickets.routes)
    for extra in _optional_route_modules():
        app.add_routes(extra)
    for connector in service.connectors.values():
        app.add_routes(list(connector.routes()))
    return app


def _optional_route_modules() -> list[web.RouteTableDef]:
    """Route modules of later features, mounted when present."""
    import importlib

    found = []
    for name in ("aggregator.web.merge",):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(module.routes)
    return found
