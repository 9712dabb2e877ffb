"""Operations pages for supervisors: connector and job health (the /healthz data, made
readable) and the outbox, where dead letters wait to be sent again.

GET  /ui/admin/health
GET  /ui/admin/outbox?state=dead|pending|sent|skipped
POST /ui/admin/outbox/{id}/retry
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from aggregator.delivery import admin as outbox_admin
from aggregator.domain import Role
from aggregator.web.keys import SERVICE
from aggregator.webui.base import FormError, Ui, action, page, see_other
from aggregator.webui.sessions import UiSession

Form = MultiDictProxy[Any]
KNOWN = ("state", "restarts", "last_error", "last_error_at", "started_at", "running")


class OpsPages:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ui/admin/health", self.health),
                web.get("/ui/admin/outbox", self.outbox),
                web.post("/ui/admin/outbox/{id}/retry", self.retry)]

    @page(Role.SUPERVISOR)
    async def health(self, request: web.Request, s: UiSession) -> web.Response:
        snapshot = request.app[SERVICE].health()
        groups = []
        for group in ("connectors", "jobs"):
            items = []
            for name, details in sorted((snapshot.get(group) or {}).items()):
                extra = {k: v for k, v in details.items() if k not in KNOWN}
                items.append({"name": name, "state": details.get("state", "?"),
                              "restarts": details.get("restarts", 0),
                              "last_error": details.get("last_error"),
                              "details": [(k, _plain(v, k)) for k, v in sorted(extra.items())]})
            groups.append((group, items))
        return self.ui.render(request, "admin_health.html", nav="health", groups=groups,
                              process=snapshot.get("process"))

    @page(Role.SUPERVISOR)
    async def outbox(self, request: web.Request, s: UiSession) -> web.Response:
        state = request.query.get("state", "dead")
        if state not in outbox_admin.STATES:
            state = "dead"
        async with self.ui.read_sessions() as session:
            rows = await outbox_admin.messages(session, state, 200)
        notice = "Pesan masuk antrean pengiriman lagi." if request.query.get("done") else None
        return self.ui.render(request, "admin_outbox.html", nav="outbox", rows=rows,
                              state=state, states=outbox_admin.STATES, notice=notice)

    @action(Role.SUPERVISOR)
    async def retry(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        raw = request.match_info["id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise FormError("Pesan tidak ditemukan.", 404)
        try:
            async with self.ui.sessions() as session, session.begin():
                await outbox_admin.retry(session, int(raw), f"user:{s.principal.name}")
        except outbox_admin.NotRetryable:
            raise FormError("Pesan ini tidak (lagi) gagal; tidak ada yang dikirim ulang.",
                            404) from None
        self.ui.wake_outbox()
        raise see_other("/ui/admin/outbox", state="dead", done="1")


def _plain(value: Any, key: str = "") -> str:
    """A health detail as short text (nested values flattened, times readable)."""
    if key.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    if isinstance(value, bool):
        return "✓" if value else "–"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())[:300]
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)[:300]
    return str(value)[:300]
