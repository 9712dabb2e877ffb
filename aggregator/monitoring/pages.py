"""The dashboard and the monthly report: the figures drawn as server-side SVG charts
and tables, in Indonesian or English, in one self-contained HTML page that prints
cleanly (A4, @media print). The stylesheet is inline (a forwarded report must stand
alone); the page's Content-Security-Policy allows exactly that stylesheet by hash."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from aggregator.monitoring import charts, ikm
from aggregator.monitoring.texts import element_name, t
from aggregator.web.headers import HTML_POLICY

TEMPLATES = Path(__file__).with_name("templates")
CSS = (TEMPLATES / "style.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# Our own page policy: the default one, plus this one inline stylesheet.
PAGE_POLICY = HTML_POLICY + f"; style-src 'self' 'sha256-{_CSS_HASH}'"
WEEKLY_AFTER = 92  # days; longer periods are drawn per week

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(css=Markup(CSS), **context)


def response(html: str, status: int = 200) -> web.Response:
    """An HTML page with its own Content-Security-Policy (its inline stylesheet), never
    cached (figures and survey answers are personal and current)."""
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": PAGE_POLICY,
                                 "Cache-Control": "no-store"})


def _buckets(days: list[dict[str, Any]], weekly: bool) -> list[tuple[str, dict[str, int],
                                                                      dict[str, int]]]:
    """(label, reports by channel, tickets by channel) per day or per week (Monday)."""
    out: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for row in days:
        d = date.fromisoformat(row["date"])
        if weekly:
            d -= timedelta(days=d.weekday())
        key = d.strftime("%d/%m") if not weekly else d.strftime("%d/%m/%y")
        reports, tickets = out.setdefault(key, ({}, {}))
        for ch, n in row["reports"].items():
            reports[ch] = reports.get(ch, 0) + n
        for ch, n in row["tickets"].items():
            tickets[ch] = tickets.get(ch, 0) + n
    return [(k, r, tk) for k, (r, tk) in out.items()]


def chart_set(f: dict[str, Any], lang: str) -> dict[str, Markup]:
    """Every chart of the page, as inline SVG."""
    vol = f["volume"]
    weekly = f["period"]["days"] > WEEKLY_AFTER
    rows = _buckets(vol["days"], weekly)
    labels = [r[0] for r in rows]
    channels = list(vol["tickets_by_channel"])[:6]
    out = {
        "volume": charts.line_chart(
            t(lang, "per_week" if weekly else "per_day"), labels,
            [(t(lang, "reports"), [sum(r[1].values()) for r in rows]),
             (t(lang, "tickets"), [sum(r[2].values()) for r in rows])]),
        "channels": charts.line_chart(
            t(lang, "by_channel"), labels,
            [(ch or "-", [r[2].get(ch, 0) for r in rows]) for ch in channels]),
        "kinds": charts.bar_chart(t(lang, "by_kind"),
                                  list(vol["tickets_by_kind"].items())),
        "backlog": charts.bar_chart(
            t(lang, "backlog"),
            [(b["bucket"] if lang == "id" else b["bucket_en"], b["count"])
             for b in f["backlog"]["by_age"]]),
    }
    for which in ("first_response", "resolution"):
        rows_sla = [(t(lang, "all"), f["sla"][which])] + [
            (u["unit"] or t(lang, "none"), u["sla"][which]) for u in f["units"]]
        out[f"sla_{which}"] = charts.stacked_chart(
            f"{t(lang, 'sla')}: {t(lang, which)}",
            [(label, [s["met"], s["breached"], s["pending"]]) for label, s in rows_sla],
            [t(lang, "sla_met"), t(lang, "sla_breached"), t(lang, "sla_pending")])
    sat = f["satisfaction"]
    marks = [(float(low), letter) for low, letter, *_ in ikm.GRADES[:-1]]
    out["ikm_elements"] = charts.bar_chart(
        f"{t(lang, 'ikm')}: {t(lang, 'element')}",
        [(element_name(lang, e["element"]), e["ikm"]) for e in sat["elements"]
         if e["ikm"] is not None], top_value=100, marks=marks)
    out["ikm_units"] = charts.bar_chart(
        f"{t(lang, 'ikm')}: {t(lang, 'units')}",
        [(u["unit"] or t(lang, "none"), u["ikm"]) for u in sat["units"]
         if u["ikm"] is not None], top_value=100, marks=marks)
    return {k: Markup(v) for k, v in out.items()}


def page(template: str, figures: dict[str, Any], lang: str, **extra: Any) -> str:
    return render(
        template, f=figures, lang=lang, charts=chart_set(figures, lang),
        t=lambda key, **kw: t(lang, key, **kw),
        element=lambda key: element_name(lang, key),
        hours=lambda v: "–" if v is None else f"{v:.1f}".replace(".", "," if lang == "id"
                                                                     else "."),
        pct=lambda v: "–" if v is None else f"{100 * v:.1f} %".replace(
            ".", "," if lang == "id" else "."),
        num=lambda v: "–" if v is None else (f"{v:,.2f}" if isinstance(v, float)
                                             else f"{v:,}").replace(
            ",", "·").replace(".", "," if lang == "id" else ".").replace(
            "·", "." if lang == "id" else ","),
        **extra)
