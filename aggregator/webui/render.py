"""Jinja2 templates of the package, autoescaped, with the helpers pages use: times in
the agency's time zone, SLA time left, labels in the reader's language, highlights.

Every value from outside (complaint text, names, file names) reaches HTML only through
autoescaping: no template marks anything `safe`, and there is no `|safe` filter use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from aggregator.webui.i18n import label, translator

_MONTHS = {"id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt",
                  "Nov", "Des"],
           "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                  "Nov", "Dec"]}


def parse(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@jinja2.pass_context
def when(ctx: Any, value: Any) -> str:
    """`14 Mar 2026 09:05` in the agency's time zone."""
    at = parse(value)
    if at is None:
        return "–"
    local = at.astimezone(ZoneInfo(ctx.get("tz") or "UTC"))
    month = _MONTHS.get(ctx.get("lang", "id"), _MONTHS["id"])[local.month - 1]
    return f"{local.day} {month} {local.year} {local:%H:%M}"


def span(seconds: float, lang: str) -> str:
    """A duration in one or two units: `2 hari 3 jam`, `4 jam 15 mnt`, `45 mnt`
    (`2 d 3 h`, `4 h 15 min` in English)."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    d, h, m = ("hari", "jam", "mnt") if lang == "id" else ("d", "h", "min")
    if days:
        return f"{days} {d} {hours} {h}" if hours else f"{days} {d}"
    if hours:
        return f"{hours} {h} {mins} {m}" if mins else f"{hours} {h}"
    return f"{mins} {m}"


@jinja2.pass_context
def ago(ctx: Any, value: Any) -> str:
    at = parse(value)
    if at is None:
        return "–"
    _ = translator(ctx.get("lang", "id"))
    seconds = (datetime.now(UTC) - at).total_seconds()
    if seconds < 60:
        return _("baru saja")
    return _("{span} lalu").format(span=span(seconds, ctx.get("lang", "id")))


@jinja2.pass_context
def sla(ctx: Any, ticket: dict[str, Any]) -> dict[str, Any]:
    """The resolution clock of a queue row: text, and `breached`/`soon` for colour."""
    lang = ctx.get("lang", "id")
    _ = translator(lang)
    due = parse(ticket.get("sla_due_at"))
    if due is None or ticket.get("state") in ("resolved", "closed"):
        return {"text": "–", "breached": False, "soon": False, "title": ""}
    left = (due - datetime.now(UTC)).total_seconds()
    if left < 0:
        return {"text": _("lewat {span}").format(span=span(left, lang)), "breached": True,
                "soon": False, "title": _("Tenggat SLA terlewati")}
    return {"text": _("sisa {span}").format(span=span(left, lang)), "breached": False,
            "soon": left < timedelta(hours=4).total_seconds(), "title": _("Sisa waktu SLA")}


def filesize(size: Any) -> str:
    try:
        n = int(size)
    except (TypeError, ValueError):
        return ""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def marked(text: str, spans: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_match) so the template can wrap matches in <mark>
    while escaping every piece."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted((int(a), int(b)) for a, b in spans):
        if start < pos or end > len(text):
            continue
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


@jinja2.pass_context
def tr_label(ctx: Any, kind: str, value: Any) -> str:
    return label(ctx.get("lang", "id"), kind, value)


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("aggregator.webui", "templates"),
            autoescape=True, undefined=jinja2.ChainableUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        self.env.filters.update(when=when, ago=ago, filesize=filesize)
        self.env.globals.update(sla=sla, marked=marked, label=tr_label)

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)
