"""Signing in and out, and the language switch.

GET  /ui/login    the form (signed-out browsers get a double-submit CSRF cookie)
POST /ui/login    check the password (throttled per name and per address), start a
                  session, go where the person was going
POST /ui/logout   end the session
POST /ui/lang     switch between Indonesian and English (a cookie)
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import Role
from aggregator.webui import sessions as ws
from aggregator.webui.base import CSRF_REFUSED, Ui, action, cross_origin_ok, safe_next, see_other
from aggregator.webui.sessions import UiSession
from storage import accounts

log = logging.getLogger("aggregator.webui")
NOTICES = {"bye": "Anda sudah keluar.", "expired": "Sesi Anda berakhir. Silakan masuk lagi."}


class LoginPages:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.home), web.get("/ui", self.home), web.get("/ui/", self.home),
                web.get("/ui/login", self.login_form), web.post("/ui/login", self.login),
                web.post("/ui/logout", self.logout), web.post("/ui/lang", self.lang)]

    async def home(self, request: web.Request) -> web.Response:
        raise see_other("/ui/queue")

    async def login_form(self, request: web.Request) -> web.Response:
        if await self.ui.current(request) is not None:
            raise see_other(safe_next(request.query.get("next")))
        notice = NOTICES.get(request.query.get("notice", ""))
        return self.ui.render(request, "login.html", next=safe_next(request.query.get("next")),
                              username="", error=None, notice=notice)

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        cookie = request.cookies.get(ws.PRE_COOKIE, "")
        if len(cookie) != 43 or not cross_origin_ok(request) or not ws.same_token(
                cookie, str(form.get("csrf_token", ""))):
            return self.ui.error(request, 403, CSRF_REFUSED)
        name = str(form.get("username", ""))[:100].strip()
        password = str(form.get("password", ""))[:1024]
        target = safe_next(str(form.get("next", "")))
        try:
            async with self.ui.read_sessions() as session:
                principal = await accounts.check_password(
                    session, name, password, client=ws.client_address(request),
                    guard=self.ui.guard)
                if principal is not None and session.dirty:
                    await _keep_rehash(session)
        except accounts.LoginThrottled as exc:
            minutes = max(1, int(exc.retry_after // 60) + 1)
            response = self.ui.render(
                request, "login.html", status=429, next=target, username=name,
                error="Terlalu banyak percobaan masuk yang gagal. Coba lagi nanti.",
                notice=None, retry_minutes=minutes)
            response.headers["Retry-After"] = str(int(exc.retry_after) + 1)
            return response
        if principal is None:
            return self.ui.render(request, "login.html", status=401, next=target,
                                  username=name, notice=None,
                                  error="Nama pengguna atau kata sandi salah.")
        async with self.ui.sessions() as session, session.begin():
            old = ws.cookie_token(request)
            if old is not None:  # never keep a session id from before the sign-in
                await ws.end(session, old)
            token = await ws.create(session, principal.user_id, ws.client_address(request),
                                    self.ui.settings.webui.session_lifetime)
        log.info("signed in", extra={"user": principal.name})
        response = web.HTTPSeeOther(target)
        ws.set_session_cookie(response, request, token)
        raise response

    @action(Role.AGENT)
    async def logout(self, request: web.Request, s: UiSession, form: object) -> web.Response:
        token = ws.cookie_token(request)
        if token is not None:
            async with self.ui.sessions() as session, session.begin():
                await ws.end(session, token)
        response = see_other("/ui/login", notice="bye")
        ws.clear_session_cookie(response, request)
        raise response

    async def lang(self, request: web.Request) -> web.Response:
        form = await request.post()
        s = await self.ui.current(request)
        expected = s.csrf if s else request.cookies.get(ws.PRE_COOKIE, "")
        if not expected or not cross_origin_ok(request) or not ws.same_token(
                expected, str(form.get("csrf_token", ""))):
            return self.ui.error(request, 403, CSRF_REFUSED)
        chosen = form.get("lang")
        response = web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
        if chosen in ("id", "en"):
            ws.set_cookie(response, ws.LANG_COOKIE, str(chosen), ws.is_secure(request),
                          max_age=365 * 24 * 3600)
        raise response


async def _keep_rehash(session: AsyncSession) -> None:
    """A hash with old parameters was replaced during the check: keep it if the
    database lets this read transaction write now, else it is replaced next time."""
    try:
        await session.commit()
    except SQLAlchemyError:
        log.info("password rehash postponed")
