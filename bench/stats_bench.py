"""How long the figures of a year take: GET /api/stats and the dashboard page of a
running service, each part of the computation, and a bare baseline query.

    python bench/fill_year.py --db URL            # first: a year of tickets
    python bench/stats_bench.py --db URL [--repeat 5] [--month 2026-11]

The baseline reads the year's tickets (id and creation time) and nothing else: the
least any figure of the year costs on this machine, in this run. Each line gives the
median of --repeat runs and its ratio to the baseline, so figures from a busy or a
quiet machine compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import delete, func, select

from aggregator.config import parse
from aggregator.monitoring import exports, figures, stats
from aggregator.monitoring.feature import MonitoringFeature
from aggregator.monitoring.period import Period, Scope, month_period
from aggregator.monitoring.rollup import Rollup
from aggregator.monitoring.timing import Days
from aggregator.runtime.service import Service
from storage.accounts import Principal, add_user, create_token
from storage.db import create_engine, session_factory
from storage.models import MonitoringCell, MonitoringRollup, Ticket
from storage.types import utcnow

ADMIN = Principal(user_id=0, name="bench", role="admin")


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    await fn()  # warm: caches, the first connection, the planner
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--month", help="also time one month, e.g. 2026-11")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    settings = parse({"database": {"url": args.db}, "web": {"port": 0},
                      "logging": {"format": "text"}, "virality": {"enabled": False},
                      "tickets": {"sla": {"calendar": {"timezone": "Asia/Jakarta"}}}},
                     base_dir=tmp, env={})
    # The cells from scratch, as on a first start or after the calendar changed.
    engine = create_engine(args.db)
    async with engine.begin() as conn:
        await conn.execute(delete(MonitoringRollup))
    t0 = time.perf_counter()
    built = await Rollup(settings, session_factory(engine)).refresh()
    build_seconds = time.perf_counter() - t0
    await engine.dispose()
    svc = Service(settings)
    await svc.start()
    try:
        async with svc.sessions() as s, s.begin():
            name = f"bench{int(time.time())}"
            await add_user(s, name, "admin")
            token = await create_token(s, name)
        async with svc.read_sessions() as s:
            last = (await s.execute(select(func.max(Ticket.created_at)))).scalar_one()
            count = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
        cal = settings.tickets.sla.calendar.calendar()
        end = (last or utcnow()).astimezone(cal.tz).date()
        year = Period(end - timedelta(days=364), end, cal)
        scope = Scope()
        rules = settings.access
        query = f"from={year.first}&to={year.last}"
        http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})

        async def baseline() -> None:
            async with svc.read_sessions() as s:
                (await s.execute(select(Ticket.id, Ticket.created_at).where(
                    Ticket.created_at >= year.start, Ticket.created_at < year.end))).all()

        async def in_process(period: Period) -> None:
            async with svc.read_sessions() as s:
                await stats.compute(s, settings, period, scope, ADMIN)

        async def get(path: str) -> None:
            async with http.get(svc.web_url + path) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

        feature = next(f for f in svc.features if isinstance(f, MonitoringFeature))
        days = Days(cal)

        async def cells() -> None:
            async with svc.read_sessions() as s:
                await figures.compute(s, year, days, scope, ADMIN, rules, time.time())

        async def ticket_rows() -> None:
            async with svc.read_sessions() as s:
                await exports.ticket_rows(s, year, scope, ADMIN, rules, utcnow())

        runs: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("baseline: the year's tickets (id, created_at)", baseline),
            ("figures of the year, in process", lambda: in_process(year)),
            ("GET /api/stats (a year)", lambda: get(f"/api/stats?{query}")),
            ("GET /monitoring dashboard (a year)", lambda: get(f"/monitoring?{query}")),
        ]
        if args.month:
            month = month_period(args.month, cal)
            runs.append((f"GET /api/stats (month {args.month})",
                         lambda: get(f"/api/stats?month={args.month}")))
            runs.append((f"figures of {args.month}, in process", lambda: in_process(month)))
        runs += [
            ("  part: refresh with nothing changed", feature.rollup.refresh),
            ("  part: the year's cells summed (no titles, backlog)", cells),
            ("the year's tickets as CSV rows (not cached)", ticket_rows),
        ]
        print(f"database {args.db.split('://')[0]}, {count:,} tickets; year "
              f"{year.first}..{year.last}; median of {args.repeat} runs")
        async with svc.read_sessions() as s:
            cells_n = (await s.execute(select(func.count()).select_from(MonitoringCell).where(
                MonitoringCell.day >= days.number(year.first)))).scalar_one()
        print(f"building the figure cells from scratch (once): {built} days in "
              f"{build_seconds:.1f} s; the year is {cells_n:,} cells", flush=True)
        base = None
        for label, fn in runs:
            times = await timed(fn, args.repeat)
            med = statistics.median(times)
            base = base or med
            print(f"{label:<46} {med * 1000:8.1f} ms  (max {max(times) * 1000:7.1f})"
                  f"  x{med / base:6.1f} baseline", flush=True)
        await http.close()
    finally:
        await svc.stop()


if __name__ == "__main__":
    asyncio.run(main())
