"""GET {path}/status/{report id}-{token}: a public, read-only view of one report's ticket.

The token is an HMAC of the report id under the connector's secret, so the link the
sender got back cannot be turned into a way to walk every report by counting ids.
A confidential report (and so every whistleblowing one) has no public view at all:
it answers 404 exactly like an unknown id, revealing nothing. Only the ticket number,
state and dates are shown, never text or identities.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from aggregator.intake.port import ConnectorContext

TOKEN_HEX = 24  # 96 bits


def token(secret: bytes, report_id: int) -> str:
    mac = hmac.new(secret, f"status:{report_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:TOKEN_HEX]


def url(base: str, path: str, report_id: int, secret: bytes) -> str:
    return f"{base}{path}/status/{report_id}-{token(secret, report_id)}"


def parse_ref(ref: str, secrets: Sequence[bytes]) -> int | None:
    """The report id if the reference carries a valid token under any of our keys."""
    rid, _, given = ref.partition("-")
    if not rid.isascii() or not rid.isdigit() or len(rid) > 18 or len(given) != TOKEN_HEX:
        return None
    report_id = int(rid)
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(token(secret, report_id).encode(), given.encode("ascii",
                                                                               "replace"))
    return report_id if ok else None


def handler(ctx: ConnectorContext, secrets: Sequence[bytes]) -> Any:
    async def get_status(request: web.Request) -> web.Response:
        report_id = parse_ref(request.match_info["ref"], secrets)
        found = None
        if report_id is not None:
            # Number, state and dates only; None for confidential reports, as for
            # unknown ones (and for another source's).
            found = await ctx.public_status(report_id)
        if found is None:
            return web.json_response({"error": "not_found", "detail": "no such report"},
                                     status=404)
        return web.json_response(found, headers={"Cache-Control": "no-store"})

    return get_status
