"""One ticket: a single timeline of its reports (from every channel), its events and
its outbound messages, with the reply box, internal notes and the handling form.

GET /ui/tickets/{number}     the page
GET /ui/attachments/{id}     a report's file: images inline, anything else as a
                             download, with nosniff and a sandboxing CSP
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from sqlalchemy import select

from aggregator.config import Settings
from aggregator.delivery.queue import Recipient, recipients
from aggregator.domain import TRANSITIONS, Priority, Role, TicketState
from aggregator.tickets import access, query, timeline
from aggregator.tickets.access import role_of
from aggregator.web.keys import SERVICE
from aggregator.web.tickets import audit_identity_read
from aggregator.webui.base import FormError, Ui, page
from aggregator.webui.i18n import translator
from aggregator.webui.sessions import UiSession
from storage.models import Report as ReportRow
from storage.models import Ticket

INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
SHOWN_RECIPIENTS = 10  # a viral ticket has hundreds of reporters: the newest, and "all"
NEWEST = 50  # reports, events and messages a ticket page shows unless asked for all
NOTICES = {"reply": "Balasan masuk antrean pengiriman.", "note": "Catatan disimpan.",
           "update": "Perubahan disimpan.", "ack": "Eskalasi diakui.",
           "merged": "Tiket digabungkan.", "split": "Laporan dipisahkan ke tiket baru."}


class TicketPages:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ui/tickets/{number}", self.ticket),
                web.get("/ui/attachments/{id}", self.attachment)]

    @page()
    async def ticket(self, request: web.Request, s: UiSession) -> web.Response:
        ctx = request.app[SERVICE]
        number = request.match_info["number"]
        rules = self.ui.settings.access
        everything = request.query.get("all") == "1"
        newest = None if everything else NEWEST
        async with self.ui.read_sessions() as session:
            row = await query.by_number(session, number)
            if row is None or not access.can_see(row, s.principal, rules):
                return self.ui.error(request, 404, "Tiket tidak ditemukan.")
            detail = await query.detail_of(session, row, s.principal, ctx.sections,
                                           newest=newest)
            files = await timeline.attachments_of(session, [r["id"] for r in detail["reports"]])
            sent = await timeline.deliveries_of(session, row.id, newest or 5000)
            found = await recipients(session, row.id)
        units = await self._units(s, detail["unit"])
        people = await self.ui.people()
        await audit_identity_read(ctx, detail, s.principal)
        lang = self.ui.lang(request)
        current = TicketState(detail["state"])
        return self.ui.render(
            request, "ticket.html", nav="queue", t=detail,
            timeline=build_timeline(detail, files, sent),
            destinations=[destination(r, detail["reports"], self.ui.settings, lang)
                          for r in found[:SHOWN_RECIPIENTS]],
            more_recipients=max(0, len(found) - SHOWN_RECIPIENTS), recipients=len(found),
            escalation=detail.get("escalation"), canned=self.ui.settings.webui.canned_responses,
            states=[st.value for st in TicketState if st == current or st in TRANSITIONS[current]],
            priorities=[p.name.lower() for p in Priority], units=units,
            assignees=sorted(set(people) | ({detail["assignee"]} - {None})),
            may_merge=role_of(s.principal) >= Role.SUPERVISOR,
            may_split=role_of(s.principal) >= Role.SUPERVISOR and detail["report_count"] > 1,
            notice=NOTICES.get(request.query.get("done", "")),
            omitted=detail.get("reports_omitted", 0) + detail.get("events_omitted", 0),
            # Sent with the reply form: a double click or a resent form replies once.
            reply_key=secrets.token_urlsafe(16),
        )

    async def _units(self, s: UiSession, current: str | None) -> list[str]:
        """Units this person may route to (agents: their own), plus the current one."""
        named = set(s.principal.units)
        if role_of(s.principal) >= Role.SUPERVISOR:
            named |= set(await self.ui.unit_names())
        return sorted(named | ({current} if current else set()))

    @page()
    async def attachment(self, request: web.Request, s: UiSession) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            return self.ui.error(request, 404, "Lampiran tidak ditemukan.")
        async with self.ui.read_sessions() as session:
            item = await timeline.attachment(session, int(raw))
            ticket = None
            if item is not None:
                ticket = (await session.execute(
                    select(Ticket).join(ReportRow, ReportRow.ticket_id == Ticket.id)
                    .where(ReportRow.id == item.report_id))).scalar_one_or_none()
        if item is None or item.data is None or ticket is None or not access.can_see(
                ticket, s.principal, self.ui.settings.access):
            return self.ui.error(request, 404, "Lampiran tidak ditemukan.")
        inline = item.content_type in INLINE_IMAGES and "download" not in request.query
        name = (item.filename or f"lampiran-{item.id}").replace("\r", "").replace("\n", "")
        ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                             for c in name)[:150]
        disposition = "inline" if inline else "attachment"
        return web.Response(body=item.data, headers={
            "Content-Type": str(item.content_type) if inline else "application/octet-stream",
            "Content-Disposition": f'{disposition}; filename="{ascii_name}"; '
                                   f"filename*=UTF-8''{quote(name[:150])}",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox; "
                                       "frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        })


def build_timeline(detail: dict[str, Any], files: dict[int, list[dict[str, Any]]],
                   sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reports, events and deliveries in time order. The `created`/`report_added`
    event of a report shows on the report itself (how it was matched)."""
    reasons: dict[int, str] = {}
    items: list[tuple[str, int, dict[str, Any]]] = []
    shown = {r["id"] for r in detail["reports"]}
    for e in detail["events"]:
        rid = e["data"].get("report_id") if isinstance(e["data"], dict) else None
        if e["type"] in ("created", "report_added") and isinstance(rid, int) and rid in shown \
                and "from" not in e["data"]:
            reasons.setdefault(rid, e["data"].get("reason") or "")
            continue
        items.append((e["at"] or "", 1, {"kind": "event", "event": e}))
    for r in detail["reports"]:
        items.append((r["received_at"] or "", 0, {
            "kind": "report", "report": r, "attachments": files.get(r["id"], []),
            "reason": reasons.get(r["id"])}))
    for d in sent:
        items.append((d["sent_at"] or d["created_at"] or "", 2,
                      {"kind": "delivery", "delivery": d}))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


def destination(r: Recipient, reports: list[dict[str, Any]], settings: Settings, lang: str
                ) -> dict[str, Any]:
    """Where a reply to this reporter goes, in words, from the masked report data (so
    what an agent may not see stays hidden here too)."""
    _ = translator(lang)
    newest = next((rep for rep in reports if rep["source"] == r.source
                   and rep["external_id"] == r.report_external_ids[0]), None)
    author = newest["author"] if newest else {"anonymous": True}
    hidden = author.get("handle") is None and bool(author.get("anonymous", False))
    conf = settings.connectors.get(r.source)
    kind = conf.type if conf is not None and conf.enabled else None
    delivers = True
    if hidden:
        where = _("identitas disembunyikan")
    elif kind == "telegram":
        where = _("Telegram · chat {id}").format(id=author.get("handle"))
    elif kind == "email":
        where = _("Email · {to}").format(to=author.get("email") or author.get("handle"))
    elif kind == "twitter":
        where = _("X · balasan ke twit {id}").format(id=r.report_external_ids[0])
    else:
        where = str(author.get("name") or author.get("handle") or "")
    if kind == "webhook":
        callback = getattr(conf, "callback_url", None)
        host = urlsplit(callback).netloc if callback else None
        where = (_("callback LAPOR! ke {host}").format(host=host) if host
                 else _("{source} tanpa callback").format(source=r.source))
        delivers = host is not None
    elif kind is None:
        where = _("{source}: konektor tidak aktif").format(source=r.source)
        delivers = False
    return {"report_id": newest["id"] if newest else 0, "channel": r.channel,
            "source": r.source, "where": where, "delivers": delivers}


def parse_report_choice(value: object) -> tuple[int | None, bool]:
    """The reply form's `to`: "all", or "r:<report id>"."""
    if value == "all":
        return None, True
    if isinstance(value, str) and value.startswith("r:") and value[2:].isdigit() \
            and len(value) < 20:
        return int(value[2:]), False
    raise FormError("Pilih penerima balasan.")
