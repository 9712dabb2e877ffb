"""HTTP: the figures as JSON and CSV, the dashboard and the monthly report pages.

Staff only (a bearer token, as the whole API): supervisors and admins see every unit;
agents see the figures of the tickets they may see (their units and unassigned ones,
aggregator/tickets/access.py) and may pick only their own units.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from aggregator.domain import Role
from aggregator.monitoring import exports, pages, stats
from aggregator.monitoring.period import Period, PeriodError, Scope, month_period, parse_period
from aggregator.monitoring.rollup import Rollup
from aggregator.monitoring.texts import lang_of
from aggregator.tickets.access import role_of
from aggregator.web.auth import require
from aggregator.web.errors import ApiError
from aggregator.web.headers import add_security_headers
from aggregator.web.keys import SERVICE, WebContext
from storage.accounts import Principal
from storage.types import utcnow

MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def _period(ctx: WebContext, params: Mapping[str, str], principal: Principal
            ) -> tuple[Period, Scope]:
    try:
        period = parse_period(params, ctx.settings.tickets.sla.calendar.calendar())
        scope = Scope.from_params(params)
    except PeriodError as exc:
        raise ApiError(400, str(exc)) from None
    if (scope.unit and role_of(principal) < Role.SUPERVISOR
            and scope.unit not in principal.units):
        raise ApiError(403, "agents see the figures of their own units only")
    return period, scope


async def figures_for(rollup: Rollup, request: web.Request,
                      params: Mapping[str, str] | None = None
                      ) -> tuple[dict[str, Any], Period, Scope, Principal]:
    principal = await require(request)
    ctx = request.app[SERVICE]
    period, scope = _period(ctx, params or request.query, principal)
    await rollup.refresh()  # figures as of now
    async with ctx.read_sessions() as session:
        f = await stats.compute(session, ctx.settings, period, scope, principal)
    return f, period, scope, principal


async def api_stats(rollup: Rollup, request: web.Request) -> web.Response:
    f, *_ = await figures_for(rollup, request)
    return web.json_response(f)


async def _stream_csv(request: web.Request, name: str, chunks: Any) -> web.StreamResponse:
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})
    add_security_headers(request, resp)  # a streamed answer sends its headers itself
    await resp.prepare(request)
    for piece in chunks:
        await resp.write(piece.encode("utf-8"))
    await resp.write_eof()
    return resp


def _file_name(kind: str, period: Period, scope: Scope) -> str:
    unit = f"-{''.join(c if c.isalnum() else '_' for c in scope.unit)[:40]}" if scope.unit \
        else ""
    return f"{kind}-{period.first}_{period.last}{unit}.csv"


async def api_stats_csv(rollup: Rollup, request: web.Request) -> web.StreamResponse:
    f, period, scope, _ = await figures_for(rollup, request)
    rows = exports.figure_rows(f)
    return await _stream_csv(request, _file_name("figures", period, scope),
                             exports.write(rows, exports.FIGURE_COLUMNS))


async def api_tickets_csv(request: web.Request) -> web.StreamResponse:
    principal = await require(request)
    ctx = request.app[SERVICE]
    period, scope = _period(ctx, request.query, principal)
    async with ctx.read_sessions() as session:
        rows = await exports.ticket_rows(session, period, scope, principal,
                                         ctx.settings.access, utcnow())
    return await _stream_csv(request, _file_name("tickets", period, scope),
                             exports.write(rows, exports.TICKET_COLUMNS))


def _query(params: Mapping[str, str | None]) -> str:
    return urlencode({k: v for k, v in params.items() if v})


def choices(f: dict[str, Any]) -> dict[str, list[str]]:
    """Units and channels to offer in the filter form: those the figures saw."""
    units = {u["unit"] for u in f["units"] if u["unit"]} | {
        u["unit"] for u in f["satisfaction"]["units"] if u["unit"]}
    if f["scope"]["unit"]:
        units.add(f["scope"]["unit"])
    channels = set(f["volume"]["reports_by_channel"]) | set(f["volume"]["tickets_by_channel"])
    if f["scope"]["channel"]:
        channels.add(f["scope"]["channel"])
    return {"units": sorted(units), "channels": sorted(c for c in channels if c)}


async def dashboard(rollup: Rollup, request: web.Request) -> web.Response:
    ctx = request.app[SERVICE]
    lang = lang_of(request.query.get("lang"), ctx.settings.monitoring.language)
    f, period, scope, _ = await figures_for(rollup, request)
    common = {"from": period.first.isoformat(), "to": period.last.isoformat(),
              "unit": scope.unit, "channel": scope.channel}
    links = {
        "json": f"/api/stats?{_query(common)}",
        "csv": f"/api/stats.csv?{_query(common)}",
        "tickets": f"/api/tickets.csv?{_query(common)}",
        "report": "/monitoring/report?" + _query({
            "month": period.last.strftime("%Y-%m"), "unit": scope.unit,
            "channel": scope.channel, "lang": lang}),
    }
    return pages.response(pages.page("dashboard.html", f, lang, links=links, choices=choices(f)))


def month_name(period: Period, lang: str) -> str:
    return f"{MONTHS[lang][period.first.month - 1]} {period.first.year}"


async def report(rollup: Rollup, request: web.Request) -> web.Response:
    ctx = request.app[SERVICE]
    lang = lang_of(request.query.get("lang"), ctx.settings.monitoring.language)
    month = request.query.get("month") or utcnow().astimezone(
        ctx.settings.tickets.sla.calendar.calendar().tz).strftime("%Y-%m")
    try:
        period = month_period(month, ctx.settings.tickets.sla.calendar.calendar())
    except PeriodError as exc:
        raise ApiError(400, str(exc)) from None
    params = {**request.query, "from": period.first.isoformat(),
              "to": period.last.isoformat()}
    params.pop("month", None)
    f, period, _, _ = await figures_for(rollup, request, params)
    return pages.response(pages.page("report.html", f, lang, month_name=month_name(period, lang),
                            agency=None))


def routes(rollup: Rollup) -> list[web.RouteDef]:
    return [
        web.get("/api/stats", partial(api_stats, rollup)),
        web.get("/api/stats.csv", partial(api_stats_csv, rollup)),
        web.get("/api/tickets.csv", api_tickets_csv),
        web.get("/monitoring", partial(dashboard, rollup)),
        web.get("/monitoring/report", partial(report, rollup)),
    ]
