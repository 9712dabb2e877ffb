"""Builds the aiohttp application: core routes plus what features and connectors serve."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from aggregator.web import admin, openapi, outbox, tickets
from aggregator.web.errors import json_errors
from aggregator.web.headers import security_headers
from aggregator.web.keys import SERVICE, WebContext


def build_app(
    ctx: WebContext, extra_routes: Iterable[web.AbstractRouteDef] = ()
) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, json_errors],
        client_max_size=ctx.settings.web.max_body_bytes,
    )
    app[SERVICE] = ctx
    app.add_routes(admin.routes)
    app.add_routes(tickets.routes)
    app.add_routes(outbox.routes)
    app.add_routes(openapi.routes)
    app.add_routes(list(extra_routes))
    return app
