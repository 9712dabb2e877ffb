"""Per-address limits see the real client behind trusted proxies, and only there."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from aggregator.web.clients import client_address, networks

PROXY = networks(["10.0.0.0/8"])


def request(peer: str, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    req = make_mocked_request("POST", "/hooks/lapor", headers=headers)
    req._transport_peername = (peer, 40000)  # the TCP peer, as the server sees it
    return req


def test_forwarded_for_counts_only_through_trusted_hops():
    # Behind our proxy: the address the proxy saw.
    assert client_address(request("10.0.0.5", "203.0.113.9"), PROXY) == "203.0.113.9"
    # A client forging the header still gets its own address appended by the proxy.
    assert client_address(request("10.0.0.5", "1.1.1.1, 203.0.113.9"), PROXY) == "203.0.113.9"
    # Two trusted hops.
    assert client_address(request("10.0.0.5", "203.0.113.9, 10.1.2.3"), PROXY) == "203.0.113.9"
    # Straight from the internet: the header is the client's own words, ignored.
    assert client_address(request("198.51.100.7", "10.9.9.9"), PROXY) == "198.51.100.7"
    # No proxies configured: the peer.
    assert client_address(request("10.0.0.5", "203.0.113.9"), []) == "10.0.0.5"
