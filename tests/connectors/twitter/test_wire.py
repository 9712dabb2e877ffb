"""The host shim: tweepy's hard-coded api.twitter.com goes to api_base_url, path
prefix and query intact, and X's rate-limit headers are read on the way back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from connectors.twitter.settings import TwitterSettings
from connectors.twitter.wire import close_client, make_client


async def test_requests_reach_the_configured_base_url() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {"path": request.path, "query": dict(request.query),
             "host": request.headers["Host"], "auth": request.headers["Authorization"]},
            headers={"x-rate-limit-remaining": "7", "x-rate-limit-reset": "1700000000"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    seen: list[tuple[str, str, Mapping[str, str]]] = []
    settings = TwitterSettings(type="twitter", bearer_token="tok", query="q",
                               api_base_url=f"http://127.0.0.1:{port}/gw/")
    client = make_client(settings, lambda m, p, h: seen.append((m, p, h)))
    try:
        got: Any = await client.search_recent_tweets("#banjir kota:1", max_results=10)
    finally:
        await close_client(client)
        await runner.cleanup()
    assert got["path"] == "/gw/2/tweets/search/recent"
    assert got["query"] == {"query": "#banjir kota:1", "max_results": "10"}
    assert got["host"] == f"127.0.0.1:{port}" and got["auth"] == "Bearer tok"
    ((method, path, headers),) = seen
    assert (method, path, headers["x-rate-limit-remaining"]) == (
        "GET", "/2/tweets/search/recent", "7")
