"""`aggregator tickets merge SOURCE INTO` and `aggregator tickets split REPORT_ID`.

Registered into the CLI's `tickets` command group; the daemon may be running (its
outbox sender delivers the acknowledgements these queue).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aggregator.config import Settings
from aggregator.events import cli_actor
from aggregator.runtime.db import with_session


def register(tickets: Any) -> None:
    merge = tickets.add_parser("merge", help="merge a ticket into another (reports move)")
    merge.add_argument("source", help="the ticket to merge away, e.g. ADU-2026-000012")
    merge.add_argument("into", help="the ticket that keeps all reports")
    merge.set_defaults(handler=_merge)
    split = tickets.add_parser("split", help="give one report a ticket of its own")
    split.add_argument("report_id", type=int, help="the report's id (tickets show)")
    split.set_defaults(handler=_split)


async def _merge(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator.dedup.merge import merge_tickets
    from aggregator.tickets.actions import ActionError

    async def _do(session: Any) -> int:
        try:
            result = await merge_tickets(session, args.source, args.into, cli_actor())
        except ActionError as exc:
            print(exc.detail, file=sys.stderr)
            return 1
        print(f"merged {result.source} into {result.target} "
              f"({result.moved_reports} report(s) moved)")
        return 0

    return await with_session(settings, _do)


async def _split(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator.dedup.merge import split_report
    from aggregator.tickets.actions import ActionError

    async def _do(session: Any) -> int:
        try:
            result = await split_report(session, args.report_id, cli_actor())
        except ActionError as exc:
            print(exc.detail, file=sys.stderr)
            return 1
        print(f"report {result.report_id} split from {result.source} "
              f"into new ticket {result.ticket}")
        return 0

    return await with_session(settings, _do)
