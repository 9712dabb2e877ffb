"""What every page shares: the signed-in person, CSRF checks, rendering, forms.

Pages are plain aiohttp handlers wrapped by `page` (GET: sign-in required, role
checked) or `action` (POST: the same plus the CSRF token and the Origin header). They
read through `aggregator.tickets.query` and write through the staff actions; the access
rules come from `aggregator.tickets.access` and are never restated here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, TypeVar
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.config import Settings
from aggregator.domain import Role
from aggregator.tickets.access import role_of
from aggregator.web.errors import bad_text
from aggregator.webui import sessions as ws
from aggregator.webui.i18n import translator
from aggregator.webui.render import Renderer
from storage.accounts import LoginGuard
from storage.models import Unit, User

P = TypeVar("P")
SESSION_KEY: Any = "webui_session"
STARTED_KEY: Any = "webui_started"
if hasattr(web, "RequestKey"):  # aiohttp >= 3.14 wants typed keys for request storage
    SESSION_KEY = web.RequestKey("webui_session", object)
    STARTED_KEY = web.RequestKey("webui_started", tuple)
CSRF_REFUSED = ("Permintaan ditolak: token keamanan (CSRF) tidak ada atau tidak cocok. "
                "Muat ulang halaman lalu coba lagi.")


class FormError(Exception):
    """A form value that cannot be used; shown to the person, status 422."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass
class Ui:
    """The web UI's state in one process: settings, databases, templates, the login
    throttle, and small caches of picker choices."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    wake_outbox: Callable[[], None]
    renderer: Renderer = field(default_factory=Renderer)
    guard: LoginGuard = field(init=False)
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.guard = LoginGuard(self.sessions)

    async def cached(self, key: str, ttl: float, make: Callable[[], Awaitable[Any]]) -> Any:
        hit = self.cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        value = await make()
        self.cache[key] = (time.monotonic(), value)
        return value

    async def people(self) -> list[str]:
        """Names of enabled users (assignee pickers), cached for a minute."""
        async def load() -> list[str]:
            async with self.read_sessions() as session:
                return list((await session.execute(
                    select(User.name).where(User.disabled.is_(False)).order_by(User.name)
                )).scalars())

        found: list[str] = await self.cached("people", 60, load)
        return found

    async def unit_names(self) -> list[str]:
        """The units table (unit pickers), cached for a minute."""
        async def load() -> list[str]:
            async with self.read_sessions() as session:
                return list((await session.execute(select(Unit.name).order_by(Unit.name))
                             ).scalars())

        found: list[str] = await self.cached("unit-names", 60, load)
        return found

    def forget(self, *keys: str) -> None:
        for key in keys:
            self.cache.pop(key, None)

    # ------------------------------------------------------------------ sessions

    async def current(self, request: web.Request) -> ws.UiSession | None:
        if SESSION_KEY in request:
            found: ws.UiSession | None = request[SESSION_KEY]
            return found
        token = ws.cookie_token(request)
        found = None
        if token is not None:
            idle = self.settings.webui.session_idle
            async with self.read_sessions() as session:
                checked = await ws.lookup(session, token, idle)
            if checked is not None:
                found, due = checked
                if due:
                    async with self.sessions() as session, session.begin():
                        await ws.touch(session, found.id)
        request[SESSION_KEY] = found
        return found

    def lang(self, request: web.Request) -> str:
        chosen = request.cookies.get(ws.LANG_COOKIE)
        return chosen if chosen in ("id", "en") else self.settings.webui.language

    # ----------------------------------------------------------------- rendering

    def render(self, request: web.Request, template: str, status: int = 200,
               **context: Any) -> web.Response:
        lang = self.lang(request)
        s: ws.UiSession | None = request.get(SESSION_KEY)
        csrf, new_cookie = (s.csrf, False) if s else ws.pre_login_token(request)
        base = {
            "_": translator(lang), "lang": lang, "me": s.principal if s else None,
            "role": role_of(s.principal) if s else None, "Role": Role, "csrf": csrf,
            "path": request.path_qs, "tz": self.settings.tickets.sla.calendar.timezone,
        }
        html = self.renderer.render(template, {**base, **context})
        response = web.Response(text=html, status=status, content_type="text/html",
                                charset="utf-8")
        response.headers["Cache-Control"] = "no-store"
        self._timing(request, response)
        if new_cookie:
            ws.set_cookie(response, ws.PRE_COOKIE, csrf, ws.is_secure(request))
        return response

    def json(self, request: web.Request, body: Any) -> web.Response:
        response = web.json_response(body)
        response.headers["Cache-Control"] = "no-store"
        self._timing(request, response)
        return response

    def _timing(self, request: web.Request, response: web.Response) -> None:
        """`Server-Timing: app;dur=<wall ms>, cpu;dur=<process CPU ms>` (benchmarks and
        browser dev tools read it)."""
        started = request.get(STARTED_KEY)
        if started is not None:
            wall, cpu = started
            response.headers["Server-Timing"] = (
                f"app;dur={(time.perf_counter() - wall) * 1000:.1f}, "
                f"cpu;dur={(time.process_time() - cpu) * 1000:.1f}")

    def error(self, request: web.Request, status: int, message: str) -> web.Response:
        return self.render(request, "error.html", status=status, status_code=status,
                           message=message)


def safe_next(value: str | None) -> str:
    """Only a path of this UI: never an absolute URL, never `//host`."""
    if not value or not value.startswith("/ui/") or value.startswith("//"):
        return "/ui/queue"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return "/ui/queue"
    return value


def see_other(location: str, **params: str) -> web.HTTPSeeOther:
    if params:
        location += ("&" if "?" in location else "?") + urlencode(params)
    return web.HTTPSeeOther(location)


Handler = Callable[Concatenate[P, web.Request, ws.UiSession, ...], Awaitable[web.StreamResponse]]


def page(role: Role = Role.AGENT) -> Callable[[Any], Any]:
    """A GET page for signed-in staff of at least `role`."""

    def wrap(fn: Any) -> Any:
        @functools.wraps(fn)
        async def handler(self: Any, request: web.Request) -> web.StreamResponse:
            request[STARTED_KEY] = (time.perf_counter(), time.process_time())
            ui: Ui = self.ui
            s = await ui.current(request)
            if s is None:
                expired = {"notice": "expired"} if ws.cookie_token(request) else {}
                raise see_other("/ui/login", next=request.path_qs, **expired)
            if role_of(s.principal) < role:
                return ui.error(request, 403, "Halaman ini untuk peran yang lebih tinggi.")
            try:
                result: web.StreamResponse = await fn(self, request, s)
            except FormError as exc:
                return ui.error(request, exc.status, str(exc))
            return result

        return handler

    return wrap


def action(role: Role = Role.AGENT) -> Callable[[Any], Any]:
    """A state-changing POST: signed in, `role`, same origin, and the session's CSRF
    token in the form field `csrf_token` or the `X-CSRF-Token` header."""

    def wrap(fn: Any) -> Any:
        @functools.wraps(fn)
        async def handler(self: Any, request: web.Request) -> web.StreamResponse:
            request[STARTED_KEY] = (time.perf_counter(), time.process_time())
            ui: Ui = self.ui
            s = await ui.current(request)
            if s is None:
                raise see_other("/ui/login")
            form = await request.post()
            given = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
            if not cross_origin_ok(request) or not isinstance(given, str) or \
                    not ws.same_token(s.csrf, given):
                return ui.error(request, 403, CSRF_REFUSED)
            if role_of(s.principal) < role:
                return ui.error(request, 403, "Tindakan ini untuk peran yang lebih tinggi.")
            try:
                result: web.StreamResponse = await fn(self, request, s, form)
            except FormError as exc:
                return ui.error(request, exc.status, str(exc))
            return result

        return handler

    return wrap


def cross_origin_ok(request: web.Request) -> bool:
    """A browser says where a POST comes from; refuse one from another site. (Under
    `Referrer-Policy: no-referrer` browsers send `Origin: null` even for our own
    forms: that says nothing, and the CSRF token decides.)"""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


def text_field(form: MultiMapping[Any] | Mapping[str, Any], name: str, *,
               max_len: int = 20_000, required: bool = True) -> str:
    """A form field as text a database can store (no NUL, no lone surrogates)."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormError("Isian tidak valid.")
    if bad_text(value) is not None:
        raise FormError("Teks berisi karakter yang tidak dapat disimpan.")
    if len(value) > max_len:
        raise FormError(f"Teks terlalu panjang (maksimal {max_len} karakter).", 413)
    if required and not value.strip():
        raise FormError("Isian ini wajib diisi.")
    return value
