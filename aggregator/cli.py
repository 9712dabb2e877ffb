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

from aggregator import __version__
from aggregator.accounts_cli import register as register_account_commands
from aggregator.config import ConfigError, Settings, config_path, load
from aggregator.events import cli_actor
from aggregator.runtime import logs
from aggregator.runtime.db import with_session

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
    status = sub.add_parser("status", help="which process holds which connector and job, "
                                           "and messages overdue for a channel")
    status.add_argument("--json", action="store_true")

    register_account_commands(sub)

    tickets = sub.add_parser("tickets", help="look at tickets").add_subparsers(
        dest="tickets_command", required=True, metavar="ACTION")
    ls = tickets.add_parser("list", help="list tickets, most urgent first")
    ls.add_argument("--state", default="open", help="state(s), comma separated, or 'open'")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    show = tickets.add_parser("show", help="one ticket with its reports and events")
    show.add_argument("number")

    outbox = sub.add_parser("outbox", help="messages owed to the outside world").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION")
    olist = outbox.add_parser("list", help="messages in one state (default: dead)")
    olist.add_argument("--state", default="dead", choices=["pending", "sent", "skipped", "dead"])
    olist.add_argument("--limit", type=int, default=50)
    olist.add_argument("--json", action="store_true")
    oretry = outbox.add_parser("retry", help="send a dead message again")
    oretry.add_argument("id", type=int)

    from aggregator.runtime.service import FEATURES

    for feature in FEATURES:
        feature.add_commands({"tickets": tickets, "aggregator": sub})
    return p


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
    handler = getattr(args, "handler", None)
    if handler is not None:  # a command a feature contributed
        return int(asyncio.run(handler(settings, args)))
    commands: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "migrate": _migrate,
        "users": _users,
        "tokens": _tokens,
        "tickets": _tickets,
        "outbox": _outbox,
        "status": _status,
    }
    return asyncio.run(commands[args.command](settings, args))


def _run(settings: Settings) -> int:
    from aggregator.runtime.malloc import limit_arenas
    from aggregator.runtime.service import Service, run_forever

    limit_arenas()  # before any thread starts: see aggregator/runtime/malloc.py

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


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator import status_cli

    return await with_session(settings, lambda session: status_cli.status(session, args))


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator import accounts_cli

    return await accounts_cli.users(settings, args, with_session)


async def _tokens(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator import accounts_cli

    return await accounts_cli.tokens(settings, args, with_session)


async def _tickets(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator.tickets import query
    from storage.accounts import Principal

    # The CLI runs with the database's own rights: it sees what an admin sees.
    cli_user = Principal(user_id=0, name=cli_actor(), role="admin")

    async def _list(session: Any) -> int:
        try:
            states = query.parse_states(args.state)
        except query.QueryError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        page = await query.queue(session, query.QueueFilter(states=states, limit=args.limit),
                                 cli_user, settings.access)
        if args.json:
            print(json.dumps(page.tickets, indent=2, ensure_ascii=False))
            return 0
        for t in page.tickets:
            print(f"{t['number']}  {t['state']:<11} {t['priority']:<7} "
                  f"{t['report_count']:>3}  {t['title'][:70]}")
        return 0

    async def _show(session: Any) -> int:
        body = await query.ticket_detail(session, args.number, cli_user, settings.access)
        if body is None:
            print(f"no ticket {args.number}", file=sys.stderr)
            return 1
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0

    return await with_session(settings, _list if args.tickets_command == "list" else _show)


async def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from aggregator.delivery import admin

    async def _list(session: Any) -> int:
        rows = await admin.messages(session, args.state, args.limit)
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 0
        for r in rows:
            print(f"{r['id']:>8}  {r['source']:<12} {r['kind']:<7} {r['ticket'] or '-':<18} "
                  f"{r['attempts']:>3}  {(r['last_error'] or '')[:60]}")
        return 0

    async def _retry(session: Any) -> int:
        try:
            await admin.retry(session, args.id, cli_actor())
        except admin.NotRetryable as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"message {args.id} queued again")
        return 0

    return await with_session(settings, _list if args.outbox_command == "list" else _retry)


if __name__ == "__main__":
    raise SystemExit(main())
