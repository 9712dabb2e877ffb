"""The queue: one list of tickets from every channel, most urgent first, with filters,
full-text search, keyset pages, and live updates (short polling on `updated_since`).

GET /ui/queue           the page (views: all, mine, unit)
GET /ui/queue/changes   JSON: tickets of this view changed since `since` (a poll)
GET /ui/queue/rows      the first page's rows as an HTML fragment (after a change)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from aggregator.domain import Priority, TicketState
from aggregator.tickets import access, query
from aggregator.webui.base import FormError, Ui, page
from aggregator.webui.sessions import UiSession
from storage.models import Report as ReportRow
from storage.models import Ticket, Unit
from storage.types import utcnow

VIEWS = {"all": "Antrean", "mine": "Tiket saya", "unit": "Unit saya"}
FIELDS = ("q", "state", "channel", "unit", "assignee", "priority", "confidential",
          "escalated", "sort")
# A poll looks this far back: a change committed a moment after the previous poll's
# clock reading (group commit) is still seen; the page ignores changes it already has.
OVERLAP = timedelta(seconds=10)


class QueuePages:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ui/queue", self.queue), web.get("/ui/queue/changes", self.changes),
                web.get("/ui/queue/rows", self.rows)]

    # -------------------------------------------------------------------- filters

    def _form(self, request: web.Request) -> tuple[str, dict[str, str]]:
        view = request.query.get("view", "all")
        view = view if view in VIEWS else "all"
        f = {k: request.query.get(k, "").strip()[:200] for k in FIELDS}
        f["state"] = f["state"] or "open"
        return view, f

    def _filter(self, s: UiSession, view: str, f: dict[str, str], cursor: str | None = None,
                since: Any = None) -> query.QueueFilter:
        p = s.principal
        try:
            states = [] if f["state"] == "all" else query.parse_states(f["state"])
        except query.QueryError:
            raise FormError("Status tidak dikenal.", 400) from None
        if f["priority"] and f["priority"].upper() not in Priority.__members__:
            raise FormError("Prioritas tidak dikenal.", 400)
        confidential = None
        if access.may_see_confidential(p, self.ui.settings.access):
            confidential = {"yes": True, "no": False}.get(f["confidential"])
        return query.QueueFilter(
            states=states, channel=f["channel"] or None, unit=f["unit"] or None,
            units=tuple(sorted(p.units)) if view == "unit" else (),
            assignee=p.name if view == "mine" else f["assignee"] or None,
            priority=f["priority"] or None, escalated=True if f["escalated"] else None,
            confidential=confidential, text=f["q"] or None, updated_since=since,
            sort="relevance" if f["sort"] == "relevance" and f["q"] else "urgency",
            limit=self.ui.settings.webui.page_size, cursor=cursor,
        )

    async def _page(self, s: UiSession, flt: query.QueueFilter, view: str) -> query.QueuePage:
        if view == "unit" and not s.principal.units:
            return query.QueuePage()
        async with self.ui.read_sessions() as session:
            try:
                return await query.queue(session, flt, s.principal, self.ui.settings.access)
            except query.QueryError:
                raise FormError("Halaman antrean ini sudah tidak berlaku; mulai dari awal.",
                                400) from None

    async def _choices(self, s: UiSession) -> dict[str, Any]:
        async def channels() -> list[str]:
            async with self.ui.read_sessions() as session:
                rows = await session.execute(select(ReportRow.channel).distinct())
                return sorted(r for (r,) in rows)

        async def units() -> list[str]:
            async with self.ui.read_sessions() as session:
                named = set((await session.execute(select(Unit.name))).scalars())
                used = (await session.execute(select(Ticket.unit).distinct())).scalars()
                return sorted(named | {u for u in used if u})

        return {
            "states": [st.value for st in TicketState],
            "priorities": [p.name.lower() for p in sorted(Priority, reverse=True)],
            "channels": await self.ui.cached("channels", 300, channels),
            "units": sorted(set(await self.ui.cached("units", 300, units)) | s.principal.units),
            "assignees": await self.ui.people(),
        }

    # ---------------------------------------------------------------------- pages

    @page()
    async def queue(self, request: web.Request, s: UiSession) -> web.Response:
        view, f = self._form(request)
        cursor = request.query.get("cursor") or None
        flt = self._filter(s, view, f, cursor)
        since = (utcnow() - OVERLAP).isoformat()
        result = await self._page(s, flt, view)
        keep = {"view": view, **{k: v for k, v in f.items() if v}}
        notice = None
        if view == "unit" and not s.principal.units:
            notice = "Anda belum tergabung dalam unit mana pun; minta admin menambahkannya."
        return self.ui.render(
            request, "queue.html", nav=view if view != "all" else "queue", view=view,
            heading=VIEWS[view], f=f, tickets=result.tickets, fresh=set(),
            choices=await self._choices(s), notice=request.query.get("notice") or notice,
            may_filter_confidential=access.may_see_confidential(
                s.principal, self.ui.settings.access),
            next_url=("/ui/queue?" + urlencode({**keep, "cursor": result.next_cursor}))
            if result.next_cursor else None,
            first_url=("/ui/queue?" + urlencode(keep)) if cursor else None,
            live=cursor is None, since=since,
            interval=int(self.ui.settings.webui.poll_interval.total_seconds() * 1000),
            changes_url="/ui/queue/changes?" + urlencode(keep),
            rows_url="/ui/queue/rows?" + urlencode(keep),
        )

    @page()
    async def changes(self, request: web.Request, s: UiSession) -> web.Response:
        view, f = self._form(request)
        now = utcnow()
        try:
            since = query.parse_time(request.query.get("since", ""))
        except query.QueryError:
            since = now - OVERLAP
        since = max(since, now - timedelta(hours=1))
        changed: list[tuple[str, str]] = []
        if view != "unit" or s.principal.units:
            async with self.ui.read_sessions() as session:
                changed = await query.changed(session, self._filter(s, view, f, since=since),
                                              s.principal, self.ui.settings.access)
        return self.ui.json(request, {
            "since": (now - OVERLAP).isoformat(),
            "changed": [f"{number}@{at}" for number, at in changed],
        })

    @page()
    async def rows(self, request: web.Request, s: UiSession) -> web.Response:
        view, f = self._form(request)
        result = await self._page(s, self._filter(s, view, f), view)
        fresh: set[str] = set()
        try:
            since = query.parse_time(request.query.get("since", ""))
            fresh = {t["number"] for t in result.tickets
                     if t["updated_at"] and query.parse_time(t["updated_at"]) > since}
        except query.QueryError:
            pass
        return self.ui.render(request, "_rows.html", tickets=result.tickets, fresh=fresh)
