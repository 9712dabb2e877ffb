"""Admin pages: users and their roles and units, the list of units, API tokens.

Every change goes through `storage.accounts` (the same rules as the API and the CLI:
the last active admin stays, names and passwords are checked); disabling a user or
resetting a password also ends their web sessions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import delete, func, select

from aggregator.domain import Role
from aggregator.tickets.access import role_of
from aggregator.webui import sessions as ws
from aggregator.webui.base import FormError, Ui, action, page, see_other, text_field
from aggregator.webui.sessions import UiSession
from storage import accounts
from storage.models import Ticket, Unit
from storage.types import utcnow

Form = MultiDictProxy[Any]
NOTICES = {"created": "Pengguna ditambahkan.", "saved": "Perubahan disimpan.",
           "unit": "Unit ditambahkan.", "unit-removed": "Unit dihapus dari daftar.",
           "revoked": "Token dicabut."}


class AdminPages:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ui/admin/users", self.users), web.post("/ui/admin/users", self.add_user),
            web.get("/ui/admin/users/{name}", self.user),
            web.post("/ui/admin/users/{name}", self.change_user),
            web.get("/ui/admin/units", self.units), web.post("/ui/admin/units", self.add_unit),
            web.post("/ui/admin/units/{id}/delete", self.remove_unit),
            web.get("/ui/admin/tokens", self.tokens),
            web.post("/ui/admin/tokens", self.add_token),
            web.post("/ui/admin/tokens/{id}/revoke", self.revoke_token),
        ]

    async def _unit_names(self) -> list[str]:
        async with self.ui.read_sessions() as session:
            return list((await session.execute(select(Unit.name).order_by(Unit.name))).scalars())

    # ---------------------------------------------------------------------- users

    @page(Role.ADMIN)
    async def users(self, request: web.Request, s: UiSession) -> web.Response:
        async with self.ui.read_sessions() as session:
            users = await accounts.list_users(session)
        return self.ui.render(request, "admin_users.html", nav="users", users=users,
                              roles=accounts.ROLES,
                              notice=NOTICES.get(request.query.get("done", "")))

    @action(Role.ADMIN)
    async def add_user(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        name = text_field(form, "name", max_len=100).strip()
        password = text_field(form, "password", max_len=1024, required=False) or None
        try:
            async with self.ui.sessions() as session, session.begin():
                await accounts.add_user(session, name, form.get("role"), password)
        except accounts.AccountError as exc:
            raise FormError(str(exc), exc.status) from None
        self.ui.forget("people")
        raise see_other("/ui/admin/users", done="created")

    @page(Role.ADMIN)
    async def user(self, request: web.Request, s: UiSession) -> web.Response:
        try:
            async with self.ui.read_sessions() as session:
                user = await accounts.get_user(session, request.match_info["name"])
        except accounts.AccountError:
            raise FormError("Pengguna tidak ditemukan.", 404) from None
        units = sorted(set(await self._unit_names()) | set(user.units or []))
        return self.ui.render(request, "admin_user.html", nav="users", user=user,
                              roles=accounts.ROLES, units=units)

    @action(Role.ADMIN)
    async def change_user(self, request: web.Request, s: UiSession, form: Form
                          ) -> web.Response:
        name = request.match_info["name"]
        password = text_field(form, "password", max_len=1024, required=False)
        units = [text_field({"u": u}, "u", max_len=100) for u in form.getall("units", [])]
        disabled = form.get("disabled") == "yes"
        try:
            async with self.ui.sessions() as session, session.begin():
                user = await accounts.get_user(session, name)
                if form.get("role") != user.role:
                    await accounts.set_role(session, name, form.get("role"))
                await accounts.set_units(session, name, units)
                if disabled != user.disabled:
                    await accounts.set_disabled(session, name, disabled)
                if password:
                    await accounts.set_password(session, name, password)
                if disabled or password:
                    await ws.end_all(session, user.id)
        except accounts.AccountError as exc:
            raise FormError(str(exc), exc.status) from None
        self.ui.forget("people", "units", "unit-names")
        raise see_other("/ui/admin/users", done="saved")

    # ---------------------------------------------------------------------- units

    @page(Role.ADMIN)
    async def units(self, request: web.Request, s: UiSession) -> web.Response:
        async with self.ui.read_sessions() as session:
            rows = (await session.execute(select(Unit).order_by(Unit.name))).scalars().all()
            counts = {str(unit): n for unit, n in await session.execute(
                select(Ticket.unit, func.count()).where(Ticket.unit.is_not(None))
                .group_by(Ticket.unit))}
            users = await accounts.list_users(session)
        members: dict[str, list[str]] = {}
        for u in users:
            for unit in u.units or []:
                members.setdefault(unit, []).append(u.name)
        unlisted = sorted(set(counts) - {r.name for r in rows})
        return self.ui.render(request, "admin_units.html", nav="units", units=rows,
                              counts=counts, members=members, unlisted=unlisted,
                              notice=NOTICES.get(request.query.get("done", "")))

    @action(Role.ADMIN)
    async def add_unit(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        name = text_field(form, "name", max_len=100).strip()
        description = text_field(form, "description", max_len=300, required=False).strip()
        async with self.ui.sessions() as session, session.begin():
            exists = (await session.execute(select(Unit.id).where(Unit.name == name))).first()
            if exists is not None:
                raise FormError("Unit itu sudah ada.", 409)
            session.add(Unit(name=name, description=description or None, created_at=utcnow()))
        self.ui.forget("units", "unit-names")
        raise see_other("/ui/admin/units", done="unit")

    @action(Role.ADMIN)
    async def remove_unit(self, request: web.Request, s: UiSession, form: Form
                          ) -> web.Response:
        raw = request.match_info["id"]
        if raw.isascii() and raw.isdigit() and len(raw) < 18:
            async with self.ui.sessions() as session, session.begin():
                await session.execute(delete(Unit).where(Unit.id == int(raw)))
        self.ui.forget("units", "unit-names")
        raise see_other("/ui/admin/units", done="unit-removed")

    # --------------------------------------------------------------------- tokens

    @page()
    async def tokens(self, request: web.Request, s: UiSession) -> web.Response:
        return await self._tokens_page(request, s, None)

    async def _tokens_page(self, request: web.Request, s: UiSession, new_token: str | None
                           ) -> web.Response:
        admin = role_of(s.principal) >= Role.ADMIN
        async with self.ui.read_sessions() as session:
            tokens = await accounts.list_tokens(
                session, None if admin else s.principal.name,
                ttl_days=self.ui.settings.web.token_ttl_days)
            users = [u.name for u in await accounts.list_users(session)] if admin else []
        now = utcnow()
        rows = [{"info": t, "state": t.state(now)} for t in reversed(tokens)]
        return self.ui.render(request, "admin_tokens.html", nav="tokens", tokens=rows,
                              users=users, new_token=new_token,
                              ttl=self.ui.settings.web.token_ttl_days,
                              notice=NOTICES.get(request.query.get("done", "")))

    @action()
    async def add_token(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        label = text_field(form, "label", max_len=100, required=False).strip() or "web"
        owner = s.principal.name
        if role_of(s.principal) >= Role.ADMIN and form.get("user"):
            owner = str(form.get("user"))
        try:
            days = float(str(form.get("ttl_days") or self.ui.settings.web.token_ttl_days))
        except ValueError:
            raise FormError("Masa berlaku harus berupa angka hari.") from None
        try:
            async with self.ui.sessions() as session, session.begin():
                token = await accounts.create_token(session, owner, label, ttl_days=days)
        except accounts.AccountError as exc:
            raise FormError(str(exc), exc.status) from None
        # Shown once, in this answer only (never in a URL or a log).
        return await self._tokens_page(request, s, token)

    @action()
    async def revoke_token(self, request: web.Request, s: UiSession, form: Form
                           ) -> web.Response:
        raw = request.match_info["id"]
        owner = None if role_of(s.principal) >= Role.ADMIN else s.principal.user_id
        found = False
        if raw.isascii() and raw.isdigit() and len(raw) < 18:
            async with self.ui.sessions() as session, session.begin():
                found = await accounts.revoke_token(session, int(raw), owner_id=owner)
        if not found:
            raise FormError("Token tidak ditemukan.", 404)
        raise see_other("/ui/admin/tokens", done="revoked")
