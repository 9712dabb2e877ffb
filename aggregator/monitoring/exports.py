"""CSV exports: the tickets of a period (one row each, with their times and SLA
outcomes) and the figures of a period (long format: section, metric, date,
breakdown, value; one pivot away from any table). UTF-8, comma separated, a header
row; text that a spreadsheet would run as a formula is prefixed with a quote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import Priority
from aggregator.monitoring import cohort as cohort_
from aggregator.monitoring import timing
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.scope import ticket_conditions
from aggregator.sections import AccessSettings
from storage.accounts import Principal
from storage.models import Ticket

OUTCOME = {timing.MET: "met", timing.BREACHED: "breached", timing.PENDING: "pending",
           timing.NO_TARGET: ""}
TICKET_COLUMNS = (
    "number", "created_at", "channel", "kind", "unit", "priority", "state", "reports",
    "first_response_at", "first_response_hours", "first_response_due_at",
    "first_response_sla", "resolved_at", "resolution_hours", "resolution_due_at",
    "resolution_sla", "escalation_level", "satisfaction", "title",
)
CONFIDENTIAL = "(rahasia)"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _local(moments: np.ndarray, days: timing.Days) -> list[str]:
    """ISO 8601 local times (seconds, with the zone's offset), "" for never; in one
    pass over the column (as `Days`: the zone's current offset)."""
    out = np.full(len(moments), "", dtype=object)
    known = ~np.isnan(moments)
    local = (moments[known] + days.offset).astype(np.int64).astype("datetime64[s]")
    minutes = int(days.offset // 60)
    zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    out[known] = np.char.add(np.datetime_as_string(local, unit="s"), zone)
    return list(out)


def _hours(seconds: np.ndarray) -> list[str]:
    out = np.full(len(seconds), "", dtype=object)
    known = ~np.isnan(seconds)
    out[known] = np.char.mod("%.2f", seconds[known] / timing.HOUR)
    return list(out)


async def ticket_rows(session: AsyncSession, period: Period, scope: Scope,
                      principal: Principal, rules: AccessSettings, now: datetime
                      ) -> list[list[Any]]:
    c, extra = await cohort_.load(
        session, period.start, period.end, ticket_conditions(principal, rules, scope),
        extra=(Ticket.number, Ticket.title, Ticket.priority, Ticket.escalation_level,
               Ticket.satisfaction, Ticket.confidential))
    m = cohort_.measure(c, period.cal, now.timestamp())
    days = timing.Days(period.cal, now)
    columns = zip(
        _local(c.created, days), (cell(x) for x in c.channel), c.kind,
        (cell(u or "") for u in c.unit), c.state, c.report_count.tolist(),
        _local(c.first_response, days), _hours(m.first_response),
        _local(c.first_response_due, days), (OUTCOME[int(o)] for o in m.sla_first),
        _local(c.resolved, days), _hours(m.resolution),
        _local(c.resolution_due, days), (OUTCOME[int(o)] for o in m.sla_resolution),
        strict=True)
    return [
        [number, created, channel, kind, unit, Priority(priority).name.lower(), state, n,
         fr, fr_hours, fr_due, fr_sla, res, res_hours, res_due, res_sla, level,
         "" if satisfaction is None else satisfaction, CONFIDENTIAL if sealed else cell(title)]
        for (number, title, priority, level, satisfaction, sealed),
            (created, channel, kind, unit, state, n, fr, fr_hours, fr_due, fr_sla, res,
             res_hours, res_due, res_sla) in zip(extra, columns, strict=True)
    ]


def write(rows: Iterator[list[Any]] | list[list[Any]], header: tuple[str, ...],
          chunk: int = 2000) -> Iterator[str]:
    """CSV text in pieces (header first), for streaming."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(header)
    for i, row in enumerate(rows, 1):
        out.writerow(row)
        if i % chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


FIGURE_COLUMNS = ("section", "metric", "date", "breakdown", "value")


def figure_rows(f: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []

    def add(section: str, metric: str, value: Any, date: str = "", breakdown: str = "") -> None:
        rows.append([section, metric, date, cell(breakdown), "" if value is None else value])

    for key in ("from", "to", "timezone"):
        add("period", key, f["period"][key])
    for key, value in f["scope"].items():
        add("scope", key, value)
    vol = f["volume"]
    add("volume", "reports", vol["reports"])
    add("volume", "tickets", vol["tickets"])
    for name in ("reports_by_channel", "reports_by_kind", "tickets_by_channel",
                 "tickets_by_kind"):
        metric, _, by = name.partition("_by_")
        for key, n in vol[name].items():
            add("volume", metric, n, breakdown=f"{by}={key}")
    for day in vol["days"]:
        for metric in ("reports", "tickets"):
            for ch, n in day[metric].items():
                add("daily", metric, n, day["date"], f"channel={ch}")
        for metric in ("reports", "tickets"):
            for kind, n in day[f"{metric}_by_kind"].items():
                add("daily", metric, n, day["date"], f"kind={kind}")
    _times(add, f, "")
    for u in f["units"]:
        label = f"unit={u['unit'] or ''}"
        add("units", "tickets", u["tickets"], breakdown=label)
        add("units", "open", u["open"], breakdown=label)
        add("units", "resolved", u["resolved"], breakdown=label)
        _times(add, u, label)
    b = f["backlog"]
    add("backlog", "open", b["open"])
    for state, n in b["by_state"].items():
        add("backlog", "open", n, breakdown=f"state={state}")
    for bucket in b["by_age"]:
        add("backlog", "open", bucket["count"], breakdown=f"age={bucket['bucket_en']}")
    e = f["escalations"]
    for key in ("escalated", "escalated_tickets", "viral_episodes", "viral_tickets"):
        add("escalations", key, e[key])
    for level, n in e["by_level"].items():
        add("escalations", "escalated", n, breakdown=f"level={level}")
    r = f["recurring"]
    add("recurring", "reopened", r["reopened"])
    for c in r["largest_clusters"]:
        add("recurring", "cluster_reports", c["reports"], breakdown=f"ticket={c['number']}")
    for p in r["top_places"]:
        add("recurring", "place_reports", p["reports"], breakdown=f"place={p['place']}")
    s = f["satisfaction"]
    for scope_label, part in [("", s), *((f"unit={u['unit'] or ''}", u) for u in s["units"])]:
        for key in ("ikm", "grade", "respondents"):
            add("satisfaction", key, part[key], breakdown=scope_label)
        add("satisfaction", "population", part["sample"]["population"], breakdown=scope_label)
        add("satisfaction", "required_sample", part["sample"]["required"],
            breakdown=scope_label)
        for el in part["elements"]:
            sep = ";" if scope_label else ""
            add("satisfaction", "nrr", el["nrr"],
                breakdown=f"{scope_label}{sep}element={el['element']}")
    add("satisfaction", "overall_rating_mean", s["overall_rating"]["mean"])
    return rows


def _times(add: Any, part: dict[str, Any], label: str) -> None:
    section = "units" if label else "response_times"
    times = part["response_times"] if "response_times" in part else {
        k: part[k] for k in ("first_response", "resolution")}
    sla = part["sla"]
    for which in ("first_response", "resolution"):
        for key in ("count", "median_hours", "p90_hours"):
            add(section, f"{which}_{key}", times[which][key], breakdown=label)
        for key in ("met", "breached", "pending", "share"):
            add(section if label else "sla", f"{which}_sla_{key}", sla[which][key],
                breakdown=label)
