"""The client's address behind reverse proxies, for per-address limits and logs.

`X-Forwarded-For` is believed only hop by hop from our side: starting at the peer that
connected to us, while that hop is a configured trusted proxy, the next address to the
left is the one it saw. An address a client wrote into the header itself is never
reached unless every hop after it is trusted, so nobody escapes a limit by forging it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    peer = request.remote or ""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", [])
            for h in v.split(",") if h.strip()]
    address = peer
    while hops and _trusted(address, trusted):
        address = hops.pop()
    return address
