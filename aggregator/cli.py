"""`aggregator`: run the daemon and administer it.

Exit codes: 0 ok, 1 the command failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aggregator import __version__, logs
from aggregator.accounts_cli import register as register_account_commands
from aggregator.config import ConfigError, Settings, config_path, load

log = logging.getLogger("aggregator.cli")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aggregator", description=__doc__.splitlines()[0])
    p.add_argument("--config", "-c", help="config file (default: $AGGREGATOR_CONFIG or "
                   "./config.yaml)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run the daemon (web + every enabled connector)")
    sub.add_parser("check-config", help="validate the config file and exit")
    sub.add_parser("migrate", help="apply database migrations")

    register_account_commands(sub)

    tickets = sub.add_parser("tickets", help="look at tickets").add_subparsers(
        dest="tickets_command", required=True, metavar="ACTION")
    ls = tickets.add_parser("list", help="list tickets, most urgent first")
    ls.add_argument("--state", default="open", help="state(s), comma separated, or 'open'")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    show = tickets.add_parser("show", help="one ticket with its reports and events")
    show.add_argument("number")
    _register_extensions(tickets)
    return p


def _register_extensions(tickets: Any) -> None:
    try:
        from aggregator.dedup.cli import register
    except ImportError:
        return
    register(tickets)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = config_path(args.config)
    try:
        settings = load(path)
    except ConfigError as exc:
        print(f"{path}: configuration is not valid:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return 2
    logs.setup(settings.logging.level, settings.logging.format)
    if args.command == "check-config":
        enabled = [n for n, c in settings.connectors.items() if c.enabled]
        print(f"{path}: ok ({len(enabled)} connector(s) enabled: {', '.join(enabled) or '-'})")
        return 0
    if args.command == "run":
        return _run(settings)
    commands: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "migrate": _migrate,
        "users": _users,
        "tokens": _tokens,
        "tickets": _tickets,
    }
    return asyncio.run(commands[args.command](settings, args))


def _run(settings: Settings) -> int:
    from aggregator.service import Service, run_forever

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_forever(Service(settings), stop)

    try:
        asyncio.run(_main())
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import create_engine
    from storage.migrate import current_revision, upgrade

    engine = create_engine(settings.database.url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
        after = await current_revision(engine)
    finally:
        await engine.dispose()
    print(f"database at revision {after}" + ("" if before == after else f" (was {before})"))
    return 0


async def _with_session(settings: Settings, fn: Callable[[Any], Coroutine[Any, Any, int]]
                        ) -> int:
    from storage.db import create_engine, session_factory
    from storage.migrate import current_revision, upgrade

    engine = create_engine(settings.database.url)
    try:
        if await current_revision(engine) is None:
            await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            return await fn(session)
    finally:
        await engine.dispose()


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator import accounts_cli

    return await accounts_cli.users(settings, args, _with_session)


async def _tokens(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator import accounts_cli

    return await accounts_cli.tokens(settings, args, _with_session)


async def _tickets(settings: Settings, args: argparse.Namespace) -> int:
    if args.tickets_command not in ("list", "show"):
        return await args.handler(settings, args)
    from sqlalchemy import select

    from aggregator.domain import OPEN_STATES
    from aggregator.tickets import ticket_summary
    from storage.models import Report, Ticket, TicketEvent

    async def _list(session: Any) -> int:
        states = [s.value for s in OPEN_STATES] if args.state == "open" else \
            args.state.split(",")
        rows = (await session.execute(
            select(Ticket).where(Ticket.state.in_(states), Ticket.merged_into_id.is_(None))
            .order_by(Ticket.escalation_level.desc(), Ticket.priority.desc(),
                      Ticket.sla_due_at, Ticket.id).limit(args.limit)
        )).scalars().all()
        if args.json:
            print(json.dumps([ticket_summary(t, []) for t in rows], indent=2))
            return 0
        for t in rows:
            print(f"{t.number}  {t.state:<11} {ticket_summary(t, [])['priority']:<7} "
                  f"{t.report_count:>3}  {t.title[:70]}")
        return 0

    async def _show(session: Any) -> int:
        t = (await session.execute(
            select(Ticket).where(Ticket.number == args.number.upper()))).scalar_one_or_none()
        if t is None:
            print(f"no ticket {args.number}", file=sys.stderr)
            return 1
        reports = (await session.execute(
            select(Report).where(Report.ticket_id == t.id).order_by(Report.id))).scalars().all()
        events = (await session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))).scalars().all()
        body = ticket_summary(t, [r.channel for r in reports])
        body["reports"] = [{"id": r.id, "channel": r.channel, "external_id": r.external_id,
                            "text": r.text, "received_at": r.received_at.isoformat()}
                           for r in reports]
        body["events"] = [{"at": e.at.isoformat(), "actor": e.actor, "type": e.type,
                           "data": e.data} for e in events]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0

    return await _with_session(settings, _list if args.tickets_command == "list" else _show)


if __name__ == "__main__":
    raise SystemExit(main())
