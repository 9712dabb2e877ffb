"""What staff do on a ticket page. Each POST checks the session, the CSRF token and
the access rules, runs one staff action in one transaction, and redirects back
(post/redirect/get), so a reload never sends anything twice.

POST /ui/tickets/{number}/reply | note | update | ack
GET  /ui/tickets/{number}/merge?into=N   preview; POST performs it (supervisors)
GET  /ui/reports/{id}/split              preview; POST performs it (supervisors)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.dedup.merge import merge_tickets, split_report
from aggregator.domain import Priority, Role
from aggregator.escalation.routes import acknowledge_escalation
from aggregator.tickets import access, query
from aggregator.tickets.actions import ActionError, add_note, add_reply, apply_patch
from aggregator.webui.base import FormError, Ui, action, page, see_other, text_field
from aggregator.webui.sessions import UiSession
from aggregator.webui.ticket import parse_report_choice
from storage.models import Report as ReportRow
from storage.models import Ticket

Form = MultiDictProxy[Any]


class TicketActions:
    def __init__(self, ui: Ui):
        self.ui = ui

    def routes(self) -> list[web.RouteDef]:
        base = "/ui/tickets/{number}"
        return [web.post(f"{base}/reply", self.reply), web.post(f"{base}/note", self.note),
                web.post(f"{base}/update", self.update), web.post(f"{base}/ack", self.ack),
                web.get(f"{base}/merge", self.merge_preview), web.post(f"{base}/merge", self.merge),
                web.get("/ui/reports/{id}/split", self.split_preview),
                web.post("/ui/reports/{id}/split", self.split)]

    async def _locked(self, session: AsyncSession, number: str, s: UiSession) -> Ticket:
        ticket = await query.by_number(session, number, lock=True)
        if ticket is None or not access.can_see(ticket, s.principal, self.ui.settings.access):
            raise FormError("Tiket tidak ditemukan.", 404)
        return ticket

    def _back(self, number: str, done: str) -> web.HTTPSeeOther:
        return see_other(f"/ui/tickets/{number}", done=done)

    async def _run(self, request: web.Request, fn: Any) -> Any:
        """Run an action; its refusal (a conflict, a bad value) becomes a page."""
        try:
            return await fn()
        except ActionError as exc:
            raise FormError(_action_message(exc), exc.status) from None

    # -------------------------------------------------------------------- writes

    @action()
    async def reply(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        text = text_field(form, "text")
        report_id, everyone = parse_report_choice(form.get("to"))
        key = str(form.get("reply_key", ""))[:200] or None

        async def run() -> None:
            async with self.ui.sessions() as session, session.begin():
                ticket = await self._locked(session, request.match_info["number"], s)
                await add_reply(session, ticket, text, f"user:{s.principal.name}",
                                s.principal.name, report_id=report_id,
                                everyone=True if everyone else None,
                                idempotency_key=key and f"ui:{s.principal.name}:{key}")

        await self._run(request, run)
        self.ui.wake_outbox()
        raise self._back(request.match_info["number"], "reply")

    @action()
    async def note(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        text = text_field(form, "text")

        async def run() -> None:
            async with self.ui.sessions() as session, session.begin():
                ticket = await self._locked(session, request.match_info["number"], s)
                await add_note(session, ticket, text, f"user:{s.principal.name}")

        await self._run(request, run)
        raise self._back(request.match_info["number"], "note")

    @action()
    async def update(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        wanted = {k: text_field(form, k, max_len=100, required=False).strip() or None
                  for k in ("state", "priority", "unit", "assignee") if k in form}

        async def run() -> None:
            async with self.ui.sessions() as session, session.begin():
                ticket = await self._locked(session, request.match_info["number"], s)
                current = {"state": ticket.state, "unit": ticket.unit,
                           "assignee": ticket.assignee,
                           "priority": Priority(ticket.priority).name.lower()}
                patch = {k: v for k, v in wanted.items() if v != current[k]}
                if "unit" in patch and not access.may_move_to(patch["unit"], s.principal):
                    raise FormError("Petugas hanya dapat memindahkan tiket ke unitnya sendiri.",
                                    403)
                if patch:
                    await apply_patch(session, self.ui.settings, ticket, patch,
                                      f"user:{s.principal.name}")

        await self._run(request, run)
        self.ui.wake_outbox()
        raise self._back(request.match_info["number"], "update")

    @action()
    async def ack(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        async def run() -> None:
            async with self.ui.sessions() as session, session.begin():
                ticket = await self._locked(session, request.match_info["number"], s)
                await acknowledge_escalation(session, ticket, s.principal.name,
                                             f"user:{s.principal.name}")

        await self._run(request, run)
        raise self._back(request.match_info["number"], "ack")

    # ------------------------------------------------------------- merge, split

    async def _merge_facts(self, s: UiSession, number: str, into: str) -> dict[str, Any]:
        async with self.ui.read_sessions() as session:
            found = []
            for n in (number, into):
                ticket = await query.by_number(session, n)
                if ticket is None or not access.can_see(ticket, s.principal,
                                                        self.ui.settings.access):
                    raise FormError(f"Tiket {n[:40]} tidak ditemukan.", 404)
                found.append((ticket, await query.ticket_summary(session, ticket)))
        (src, source), (dst, target) = found
        problem = None
        if src.id == dst.id:
            problem = "Tiket tidak dapat digabungkan ke dirinya sendiri."
        elif src.merged_into_id is not None:
            problem = "Tiket ini sudah digabungkan."
        elif src.confidential != dst.confidential:
            problem = "Tiket rahasia dan tiket biasa tidak dapat digabungkan."
        prio = max(src.priority, dst.priority)
        return {"source": source, "target": target, "problem": problem,
                "priority": Priority(prio).name.lower(),
                "reports": source["report_count"] + target["report_count"]}

    @page(Role.SUPERVISOR)
    async def merge_preview(self, request: web.Request, s: UiSession) -> web.Response:
        into = request.query.get("into", "").strip()[:40]
        if not into:
            raise FormError("Isi nomor tiket tujuan.")
        facts = await self._merge_facts(s, request.match_info["number"], into)
        return self.ui.render(request, "merge.html", nav="queue", **facts)

    @action(Role.SUPERVISOR)
    async def merge(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        number = request.match_info["number"]
        into = text_field(form, "into", max_len=40)
        facts = await self._merge_facts(s, number, into)
        if facts["problem"]:
            raise FormError(facts["problem"], 409)

        async def run() -> Any:
            async with self.ui.sessions() as session, session.begin():
                return await merge_tickets(session, number, into, f"user:{s.principal.name}")

        result = await self._run(request, run)
        self.ui.wake_outbox()
        raise self._back(result.target, "merged")

    async def _split_facts(self, s: UiSession, raw: str) -> dict[str, Any]:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise FormError("Laporan tidak ditemukan.", 404)
        async with self.ui.read_sessions() as session:
            report = await session.get(ReportRow, int(raw))
            ticket = await session.get(Ticket, report.ticket_id) if report else None
            if report is None or ticket is None or not access.can_see(
                    ticket, s.principal, self.ui.settings.access):
                raise FormError("Laporan tidak ditemukan.", 404)
            summary = await query.ticket_summary(session, ticket)
            shown = query.report_json(report, None, s.principal)
        problem = None if ticket.report_count > 1 else \
            "Ini satu-satunya laporan pada tiketnya; tidak ada yang bisa dipisahkan."
        return {"report": shown, "ticket": summary, "problem": problem}

    @page(Role.SUPERVISOR)
    async def split_preview(self, request: web.Request, s: UiSession) -> web.Response:
        facts = await self._split_facts(s, request.match_info["id"])
        return self.ui.render(request, "split.html", nav="queue", **facts)

    @action(Role.SUPERVISOR)
    async def split(self, request: web.Request, s: UiSession, form: Form) -> web.Response:
        facts = await self._split_facts(s, request.match_info["id"])
        if facts["problem"]:
            raise FormError(facts["problem"], 409)

        async def run() -> Any:
            async with self.ui.sessions() as session, session.begin():
                return await split_report(session, int(request.match_info["id"]),
                                          f"user:{s.principal.name}")

        result = await self._run(request, run)
        self.ui.wake_outbox()
        raise self._back(result.ticket, "split")


def _action_message(exc: ActionError) -> str:
    if exc.status == 409 and "cannot move" in exc.detail:
        return "Perubahan status ini tidak diperbolehkan."
    if exc.status == 409:
        return "Tindakan ini bertentangan dengan keadaan tiket saat ini."
    if exc.status == 413:
        return "Teks terlalu panjang."
    if "report" in exc.detail and "is not on" in exc.detail:
        return "Penerima yang dipilih bukan pelapor tiket ini."
    return "Isian tidak valid."
