"""Pointing tweepy at another host, and reading X's rate-limit headers on the way.

tweepy hard-codes `https://api.twitter.com` in `AsyncBaseClient.request` and has no
setting for the host. AsyncClient does use `client.session` when one is set, so we give
it an aiohttp session with one client middleware (aiohttp >= 3.12) that:
  * rewrites scheme/host/port of requests for api.twitter.com to `api_base_url`
    (and its path prefix, if any), fixing the Host header to match; and
  * hands every response's `x-rate-limit-*` headers to a callback, because tweepy's
    `Response` drops headers and we want X's own remaining quota in /healthz.
Nothing else about tweepy's behaviour changes (auth, signing, errors, parsing).
With the default base URL the rewrite is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp
from tweepy.asynchronous import AsyncClient
from yarl import URL

from connectors.twitter.settings import DEFAULT_API, TwitterSettings

X_HOST = URL(DEFAULT_API).host

# (method, path of the request, response headers) -> None
HeaderObserver = Callable[[str, str, Mapping[str, str]], None]


def rewrite_middleware(
    base_url: str, observe: HeaderObserver | None = None
) -> aiohttp.ClientMiddlewareType:
    """An aiohttp client middleware sending api.twitter.com requests to `base_url`."""
    base = URL(base_url)
    prefix = base.raw_path.rstrip("/")
    same = base.host == X_HOST and base.scheme == "https" and not prefix and base.port == 443

    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        path = request.url.path
        if request.url.host == X_HOST and not same:
            old = request.url
            # Built from raw parts: keeps the query exactly as tweepy (or the OAuth
            # signer) encoded it.
            url = URL.build(scheme=base.scheme, host=base.raw_host or "",
                            port=base.explicit_port, path=prefix + old.raw_path,
                            query_string=old.raw_query_string, encoded=True)
            request.url = url
            request.headers["Host"] = url.host_port_subcomponent or base.host or ""
        response = await handler(request)
        if observe is not None:
            observe(request.method, path, response.headers)
        return response

    return middleware


def make_client(
    settings: TwitterSettings, observe: HeaderObserver | None = None
) -> AsyncClient:
    """A tweepy AsyncClient with its own session; close it with `close_client`."""
    auth = settings.user_auth
    client = AsyncClient(
        bearer_token=settings.bearer_token.get_secret_value(),
        consumer_key=auth.consumer_key.get_secret_value() if auth else None,
        consumer_secret=auth.consumer_secret.get_secret_value() if auth else None,
        access_token=auth.access_token.get_secret_value() if auth else None,
        access_token_secret=auth.access_token_secret.get_secret_value() if auth else None,
        return_type=dict,  # the documented JSON; parse.py reads it
        wait_on_rate_limit=False,  # we schedule around 429 ourselves
    )
    client.session = aiohttp.ClientSession(
        middlewares=(rewrite_middleware(settings.api_base_url, observe),),
        timeout=aiohttp.ClientTimeout(total=settings.request_timeout),
    )
    return client


async def close_client(client: AsyncClient) -> None:
    if client.session is not None:
        await client.session.close()
        client.session = None
