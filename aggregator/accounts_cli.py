"""`aggregator users ...` and `aggregator tokens ...`: staff accounts and API tokens.

users add NAME [--role R] [--password-stdin]    tokens create NAME [--label L] [--ttl-days N]
users list                                        tokens list [--user NAME]
users disable NAME | enable NAME                  tokens revoke ID
users role NAME ROLE
users passwd NAME --password-stdin
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aggregator.config import Settings
from storage import accounts

Session = Any
WithSession = Callable[[Settings, Callable[[Session], Coroutine[Any, Any, int]]],
                       Coroutine[Any, Any, int]]


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="staff accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a staff user")
    add.add_argument("name")
    add.add_argument("--role", choices=accounts.ROLES, default="agent")
    add.add_argument("--password-stdin", action="store_true",
                     help="read a password for the web UI from standard input")
    users.add_parser("list", help="list users")
    for action, text in (("disable", "disable a user (their tokens stop working)"),
                         ("enable", "enable a disabled user")):
        users.add_parser(action, help=text).add_argument("name")
    role = users.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=accounts.ROLES)
    units = users.add_parser("units", help="set the units whose tickets a user works")
    units.add_argument("name")
    units.add_argument("unit", nargs="*", help="unit names (none: no unit)")
    passwd = users.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True,
                        help="read the new password from standard input")

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(
        dest="tokens_command", required=True, metavar="ACTION")
    create = tokens.add_parser("create", help="create an API token; prints only the token")
    create.add_argument("name", help="the user the token acts as")
    create.add_argument("--label", default="cli")
    create.add_argument("--ttl-days", type=int, default=None,
                        help="days until it expires (default: web.token_ttl_days)")
    ls = tokens.add_parser("list", help="list tokens (never their values)")
    ls.add_argument("--user", help="only this user's tokens")
    revoke = tokens.add_parser("revoke", help="revoke a token by its id (see tokens list)")
    revoke.add_argument("id", type=int)


async def _up_to_date(settings: Settings) -> None:
    """Apply pending migrations first (as `run` does), so an upgraded install can
    manage tokens before its first restart."""
    if not settings.database.migrate_on_start:
        return
    from storage.db import create_engine
    from storage.migrate import current_revision, head_revision, upgrade

    engine = create_engine(settings.database.url)
    try:
        if await current_revision(engine) != head_revision():
            await upgrade(engine)
    finally:
        await engine.dispose()


def _read_password() -> str | None:
    password = getpass.getpass("password: ") if sys.stdin.isatty() else \
        sys.stdin.readline().rstrip("\r\n")
    try:
        return accounts.check_new_password(password)
    except accounts.AccountError as exc:
        print(str(exc), file=sys.stderr)
        return None


def _fail(exc: accounts.AccountError) -> int:
    print(str(exc), file=sys.stderr)
    return 1


async def users(settings: Settings, args: argparse.Namespace, with_session: WithSession
                ) -> int:
    password = None
    if getattr(args, "password_stdin", False):
        password = _read_password()
        if password is None:
            return 1

    async def _run(session: Session) -> int:
        command = args.users_command
        try:
            if command == "add":
                user = await accounts.add_user(session, args.name, args.role, password)
                print(f"added {user.name} ({user.role})")
            elif command == "list":
                for u in await accounts.list_users(session):
                    state = "disabled" if u.disabled else "active"
                    print(f"{u.name:<24} {u.role:<10} {state:<9} {','.join(u.units or [])}")
            elif command in ("disable", "enable"):
                user = await accounts.set_disabled(session, args.name, command == "disable")
                print(f"{user.name} {command}d")
            elif command == "role":
                user = await accounts.set_role(session, args.name, args.role)
                print(f"{user.name} is now {user.role}")
            elif command == "units":
                user = await accounts.set_units(session, args.name, list(args.unit))
                print(f"{user.name} works for: {', '.join(user.units or []) or '-'}")
            elif command == "passwd":
                user = await accounts.set_password(session, args.name, password)
                print(f"password of {user.name} changed")
        except accounts.AccountError as exc:
            return _fail(exc)
        return 0

    await _up_to_date(settings)
    return await with_session(settings, _run)


async def tokens(settings: Settings, args: argparse.Namespace, with_session: WithSession
                 ) -> int:
    ttl = settings.web.token_ttl_days

    async def _run(session: Session) -> int:
        command = args.tokens_command
        try:
            if command == "create":
                print(await accounts.create_token(session, args.name, args.label,
                                                  ttl_days=args.ttl_days or ttl))
            elif command == "list":
                from storage.types import utcnow

                now = utcnow()
                print(f"{'ID':>6}  {'USER':<20} {'LABEL':<16} {'STATE':<8} EXPIRES")
                for t in await accounts.list_tokens(session, args.user, ttl_days=ttl):
                    print(f"{t.id:>6}  {t.user:<20} {t.label[:16]:<16} {t.state(now):<8} "
                          f"{t.expires_at.isoformat(timespec='seconds')}")
            elif command == "revoke":
                if not await accounts.revoke_token(session, args.id):
                    print(f"no token with id {args.id}", file=sys.stderr)
                    return 1
                print(f"token {args.id} revoked")
        except accounts.AccountError as exc:
            return _fail(exc)
        return 0

    await _up_to_date(settings)
    return await with_session(settings, _run)
