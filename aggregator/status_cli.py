"""`aggregator status`: who does what right now, read from the database.

Every process of a deployment keeps a lease row alive (`process:<id>`), and so does
the holder of each polling connector (`connector:<name>`) and single-instance job
(`job:<name>`): an operator sees which process drives which mailbox or bot, and
which messages wait overdue for a channel nobody is driving, without asking every
process's /healthz.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.runtime import census, leases
from storage.models import Outbox
from storage.types import utcnow

OVERDUE = timedelta(minutes=1)


async def snapshot(session: AsyncSession) -> dict[str, Any]:
    live = await leases.holders(session)
    processes = sorted(v["holder"] for k, v in live.items() if k.startswith(census.PREFIX))
    held = {k: v for k, v in live.items() if not k.startswith(census.PREFIX)}
    overdue = dict((await session.execute(
        select(Outbox.source, func.count())
        .where(Outbox.state == "pending", Outbox.next_attempt_at <= utcnow() - OVERDUE)
        .group_by(Outbox.source))).all())
    return {"processes": processes, "leases": held,
            "overdue_outbox": {str(k): int(v) for k, v in overdue.items()}}


def render(state: dict[str, Any]) -> str:
    lines = [f"processes: {len(state['processes']) or 'none counted (SQLite: one)'}"]
    lines += [f"  {p}" for p in state["processes"]]
    lines.append("held:" if state["leases"] else "held: nothing")
    lines += [f"  {name:<28} {v['holder']}  (until {v['expires_at']})"
              for name, v in state["leases"].items()]
    for source, n in state["overdue_outbox"].items():
        lines.append(f"outbox: {n} message(s) for {source} overdue by over a minute")
    return "\n".join(lines)


async def status(session: AsyncSession, args: argparse.Namespace) -> int:
    state = await snapshot(session)
    print(json.dumps(state, indent=2) if args.json else render(state))
    return 0
