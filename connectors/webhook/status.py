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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo
from storage.models import Report as ReportRow
from storage.models import Ticket

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


async def public_status(
    sessions: async_sessionmaker[AsyncSession], source: str, report_id: int
) -> dict[str, Any] | None:
    async with sessions() as session:
        report = await session.get(ReportRow, report_id)
        if report is None or report.source != source or report.confidential:
            return None
        ticket = await repo.resolve_ticket(session, await session.get(Ticket, report.ticket_id))
        if ticket is None:
            return None
        return {
            "ticket": ticket.number,
            "state": ticket.state,
            "kind": report.kind,
            "received_at": report.received_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        }


def handler(
    sessions: async_sessionmaker[AsyncSession], source: str, secrets: Sequence[bytes]
) -> Any:
    async def get_status(request: web.Request) -> web.Response:
        report_id = parse_ref(request.match_info["ref"], secrets)
        found = None
        if report_id is not None:
            found = await public_status(sessions, source, report_id)
        if found is None:
            return web.json_response({"error": "not_found", "detail": "no such report"},
                                     status=404)
        return web.json_response(found, headers={"Cache-Control": "no-store"})

    return get_status
