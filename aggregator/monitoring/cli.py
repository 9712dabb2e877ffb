"""`aggregator report --month 2026-11 [--unit X] [--channel C] [--lang en] --out DIR`:
the monthly report a head of unit can forward (self-contained HTML that prints to PDF)
and the month's figures and tickets as CSV, written from the database directly."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aggregator.config import Settings
from aggregator.events import cli_actor
from aggregator.monitoring import exports, pages, stats
from aggregator.monitoring.period import PeriodError, Scope, month_period
from aggregator.monitoring.rollup import Rollup
from aggregator.monitoring.routes import month_name
from storage.accounts import Principal
from storage.db import create_engine, session_factory
from storage.migrate import current_revision, upgrade
from storage.types import utcnow


async def write_report(settings: Settings, args: argparse.Namespace) -> int:
    try:
        period = month_period(args.month, settings.tickets.sla.calendar.calendar())
        scope = Scope.from_params({"unit": args.unit or "", "channel": args.channel or ""})
    except PeriodError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    lang = args.lang or settings.monitoring.language
    # The CLI runs with the database's own rights: it sees what an admin sees.
    who = Principal(user_id=0, name=cli_actor(), role="admin")
    out = Path(args.out)
    now = utcnow()

    engine = create_engine(settings.database.url)
    try:
        if await current_revision(engine) is None:
            await upgrade(engine)
        sessions = session_factory(engine)
        await Rollup(settings, sessions).refresh()
        async with sessions() as session:
            f = await stats.compute(session, settings, period, scope, who, now)
            tickets = await exports.ticket_rows(session, period, scope, who, settings.access,
                                                now)
    finally:
        await engine.dispose()
    suffix = f"{period.first:%Y-%m}"
    if scope.unit:
        suffix += "-" + "".join(c if c.isalnum() else "_" for c in scope.unit)[:40]
    files = {
        out / f"report-{suffix}.html": pages.page(
            "report.html", f, lang, month_name=month_name(period, lang), agency=None),
        out / f"figures-{suffix}.csv": "".join(
            exports.write(exports.figure_rows(f), exports.FIGURE_COLUMNS)),
        out / f"tickets-{suffix}.csv": "".join(
            exports.write(tickets, exports.TICKET_COLUMNS)),
    }
    await asyncio.to_thread(_write, out, files)
    return 0


def _write(folder: Path, files: dict[Path, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="")
        print(path)
