"""The satisfaction survey form a reporter reaches from a signed link.

When a ticket is resolved, the outbox gives each reporter's "resolved" message a link
(`OutboundMessage.survey_url`): e-mail puts it in the mail, the LAPOR callback in its
`survey_url` field, the Telegram bot under its 1-4 buttons. The link names the ticket
and the reporter and is signed (HMAC-SHA256 under `monitoring.survey.secret`) with an
expiry day, so it opens that reporter's form only, without a login. The form is plain
HTML (labels, radio buttons, no script); every answer is kept, and the latest per
element counts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.events import reporter_actor
from aggregator.intake import observations
from aggregator.monitoring import ikm, pages
from aggregator.monitoring.texts import QUESTIONS, lang_of, t
from aggregator.tickets.lookups import reporter_ticket
from aggregator.web.keys import SERVICE
from storage.models import Report, Reporter, SurveyAnswer, Ticket

_NUMBER = re.compile(r"^[A-Z0-9-]{1,40}$")
MAX_COMMENT = 4000


def _today() -> int:
    return int(datetime.now(UTC).timestamp() // 86400)


@dataclass(frozen=True)
class SurveyLinks:
    """Makes and checks the signed per-ticket, per-reporter survey links."""

    key: bytes
    base_url: str
    days: int = 60

    def _sign(self, number: str, reporter_id: int, expires: int) -> str:
        mac = hmac.new(self.key, f"survey|{number}|{reporter_id}|{expires}".encode(),
                       hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def token(self, number: str, reporter_id: int, today: int | None = None) -> str:
        expires = (today if today is not None else _today()) + self.days
        return f"{number}.{reporter_id}.{expires}.{self._sign(number, reporter_id, expires)}"

    def url(self, number: str, reporter_id: int) -> str:
        return f"{self.base_url.rstrip('/')}/survey/{self.token(number, reporter_id)}"

    def check(self, token: str, today: int | None = None) -> tuple[str, int] | None:
        """(ticket number, reporter id) of a genuine, unexpired token; None otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or not _NUMBER.match(parts[0]):
            return None
        number, rid, expires, sig = parts
        if not (rid.isdigit() and expires.isdigit()) or len(rid) > 18 or len(expires) > 9:
            return None
        good = self._sign(number, int(rid), int(expires))
        if not hmac.compare_digest(good.encode(), sig.encode()):
            return None
        if int(expires) < (today if today is not None else _today()):
            return None
        return number, int(rid)


@dataclass
class Respondent:
    ticket: Ticket
    reporter: Reporter
    channel: str

    @property
    def key(self) -> str:
        return f"r:{self.reporter.id}"


async def respondent(session: AsyncSession, number: str, reporter_id: int
                     ) -> Respondent | None:
    who = await session.get(Reporter, reporter_id)
    if who is None:
        return None
    ticket = await reporter_ticket(session, who.source, who.handle, number)
    if ticket is None:
        return None
    channel = (await session.execute(
        select(Report.channel).where(Report.reporter_id == who.id)
        .order_by(Report.id.desc()).limit(1))).scalar_one_or_none()
    return Respondent(ticket, who, channel or who.source)


def _page(template: str, status: int, **context: Any) -> web.Response:
    return pages.response(pages.render(template, **context), status)


def _message(lang: str, key: str, status: int, **kw: Any) -> web.Response:
    return _page("survey.html", status, lang=lang, t=lambda k, **a: t(lang, k, **a),
                 message=t(lang, key, **kw), form=None)


def _form(lang: str, who: Respondent, previous: dict[str, int], status: int = 200,
          error: str | None = None, comment: str = "") -> web.Response:
    questions = [(key, *QUESTIONS[lang][key]) for key in ikm.ELEMENTS]
    return _page("survey.html", status, lang=lang, t=lambda k, **a: t(lang, k, **a),
                 message=None, error=error, number=who.ticket.number, form=questions,
                 previous=previous, comment=comment)


async def _previous(session: AsyncSession, who: Respondent) -> dict[str, int]:
    rows = (await session.execute(
        select(SurveyAnswer.element, SurveyAnswer.score)
        .where(SurveyAnswer.ticket_id == who.ticket.id, SurveyAnswer.respondent == who.key)
        .order_by(SurveyAnswer.id))).all()
    return dict(rows)  # the latest answer per element wins


def _read_form(form: Any) -> tuple[dict[str, int], bool, str]:
    """(answers, whether anything was not an answer, the comment) of a posted form."""
    answers: dict[str, int] = {}
    bad = False
    for key in ikm.ELEMENTS:
        value = form.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, str) and value in ("1", "2", "3", "4"):
            answers[key] = int(value)
        else:
            bad = True
    raw = form.get("comment")
    return answers, bad, _clean(raw)[:MAX_COMMENT].strip() if isinstance(raw, str) else ""


def handlers(links: SurveyLinks, default_lang: str) -> list[web.RouteDef]:
    async def whose(request: web.Request, session: AsyncSession
                    ) -> tuple[str, Respondent | web.Response]:
        """The respondent a link opens and the page's language, or the page that says
        why it opens nothing."""
        lang = lang_of(request.query.get("lang"), default_lang)
        found = links.check(request.match_info["token"])
        who = await respondent(session, *found) if found is not None else None
        if who is None:
            return lang, _message(lang, "survey_invalid", 404)
        lang = lang_of(request.query.get("lang") or who.reporter.language, default_lang)
        if who.ticket.state not in observations.RATED_STATES:
            return lang, _message(lang, "survey_not_finished", 409)
        return lang, who

    async def show(request: web.Request) -> web.Response:
        async with request.app[SERVICE].read_sessions() as session:
            lang, who = await whose(request, session)
            if isinstance(who, web.Response):
                return who
            return _form(lang, who, await _previous(session, who))

    async def submit(request: web.Request) -> web.Response:
        answers, bad, comment = _read_form(await request.post())
        async with request.app[SERVICE].sessions() as session, session.begin():
            lang, who = await whose(request, session)
            if isinstance(who, web.Response):
                return who
            if bad or not (answers or comment):
                return _form(lang, who, answers, 422, t(lang, "survey_missing"), comment)
            source, handle = who.reporter.source, who.reporter.handle
            await observations.record_survey_answers(
                session, who.ticket, respondent=who.key, channel=who.channel, source=source,
                answers=answers, actor=reporter_actor(source, handle))
            if comment:
                await observations.record_survey_comment(session, source, handle,
                                                         who.ticket.number, comment)
            number = who.ticket.number
        return _message(lang, "survey_thanks", 200, number=number)

    return [web.get("/survey/{token}", show), web.post("/survey/{token}", submit)]


def _clean(text: str) -> str:
    """Text any database can hold: no NUL, no lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
