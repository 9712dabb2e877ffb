"""The figures of a period, summed from the cells (cells.py) the principal may see.

Tickets are counted in the period they were received (their cohort): how many came
in, how fast they got a first answer and a resolution, and the share that met each
deadline. Reports, events and survey answers count on the day they happened.
Counts are summed by the database; durations, due times and survey tallies are packed
arrays joined with numpy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.monitoring import ikm, timing
from aggregator.monitoring.cells import KINDS, STATES, SURVEY_KEYS
from aggregator.monitoring.period import Period, Scope
from aggregator.monitoring.texts import AGE_BUCKETS
from aggregator.sections import AccessSettings
from aggregator.tickets import access
from storage.accounts import Principal
from storage.models import MonitoringCell as C
from storage.models import MonitoringPlace as P
from storage.models import Ticket

TOP = 10
CONFIDENTIAL = "(rahasia)"
UNIT_SUMS = ("tickets", "open", "resolved", "frm", "frb", "rsm", "rsb", "served",
             "respondents")


def ranked(counts: Counter[str]) -> dict[str, int]:
    """Most first; ties by name, so the order never depends on the database's."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _where(scope: Scope, principal: Principal, rules: AccessSettings) -> list[Any]:
    conds = [access.visible(principal, rules, unit=C.unit, confidential=C.confidential)]
    if scope.unit:
        conds.append(C.unit == scope.unit)
    if scope.channel:
        conds.append(C.channel == scope.channel)
    return conds


def _ints(blobs: list[bytes], width: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<i4").reshape(-1, width)


def _floats(blobs: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f8")


@dataclass
class Times:
    """Durations and undecided due times of some tickets, with their decided counts."""

    blobs: dict[str, list[bytes]] = field(
        default_factory=lambda: {"fr": [], "rs": [], "frd": [], "rsd": []})
    n: dict[str, int] = field(default_factory=dict)

    def times(self) -> dict[str, Any]:
        return {"first_response": timing.durations(_floats(self.blobs["fr"])),
                "resolution": timing.durations(_floats(self.blobs["rs"]))}

    def slas(self, now: float) -> dict[str, Any]:
        out = {}
        for name, short in (("first_response", "fr"), ("resolution", "rs")):
            due = _floats(self.blobs[short + "d"])
            late = int(np.count_nonzero(due < now))
            met, breached = self.n.get(short + "m", 0), self.n.get(short + "b", 0) + late
            decided = met + breached
            out[name] = {"met": met, "breached": breached, "pending": len(due) - late,
                         "share": round(met / decided, 4) if decided else None}
        return out


async def compute(session: AsyncSession, period: Period, days: timing.Days, scope: Scope,
                  principal: Principal, rules: AccessSettings, now: float) -> dict[str, Any]:
    first, last = days.number(period.first), days.number(period.last)
    where = [C.day >= first, C.day <= last, *_where(scope, principal, rules)]
    db = await session.connection()  # Core rows: thousands of them, no ORM work per row
    series: list[dict[str, Any]] = [
        {"date": days.date(first + i).isoformat(), "reports": {}, "tickets": {},
         "reports_by_kind": {}, "tickets_by_kind": {}} for i in range(period.days)]
    tickets_ch: Counter[str] = Counter()
    reports_ch: Counter[str] = Counter()
    for day, ch, tickets, reports in (await db.execute(
            select(C.day, C.channel, func.sum(C.tickets), func.sum(C.reports))
            .where(*where).group_by(C.day, C.channel))).all():
        for key, n, total in (("tickets", tickets, tickets_ch), ("reports", reports, reports_ch)):
            if n:
                series[day - first][key][ch] = int(n)
                total[ch] += int(n)
    units: dict[str | None, Times] = {}
    for row in (await db.execute(
            select(C.unit, *(func.sum(getattr(C, k)) for k in UNIT_SUMS))
            .where(*where).group_by(C.unit))).all():
        units[row[0]] = Times(n={k: int(v or 0) for k, v in zip(UNIT_SUMS, row[1:],
                                                                strict=True)})
    day_kinds: list[tuple[int, bytes]] = []
    report_kinds: list[tuple[int, bytes]] = []
    survey: dict[str | None, list[bytes]] = {}
    extras: list[dict[str, Any]] = []
    rows = (await db.execute(  # all at once: one fetch, not one per row
        select(C.day, C.unit, C.kinds, C.report_kinds, C.fr, C.rs, C.frd, C.rsd, C.survey,
               C.top, C.extra)
        .where(*where, or_(C.tickets > 0, C.report_kinds.is_not(None), C.survey.is_not(None),
                           C.extra.is_not(None))))).all()
    top: list[bytes] = []
    for day, unit, kinds, rkinds, fr, rs, frd, rsd, answers, largest, extra in rows:
        if largest is not None:
            top.append(largest)
        if kinds is not None:
            day_kinds.append((day - first, kinds))
        if rkinds is not None:
            report_kinds.append((day - first, rkinds))
        held = units[unit].blobs
        for key, blob in (("fr", fr), ("rs", rs), ("frd", frd), ("rsd", rsd)):
            if blob is not None:
                held[key].append(blob)
        if answers is not None:
            survey.setdefault(unit, []).append(answers)
        if extra:
            extras.append(extra)
    per_kind = _per_day(day_kinds, period.days)
    report_per_kind = _per_day(report_kinds, period.days)
    for i, day_row in enumerate(series):
        day_row["tickets_by_kind"] = {KINDS[k]: int(n) for k, n in enumerate(per_kind[i]) if n}
        day_row["reports_by_kind"] = {KINDS[k]: int(n)
                                      for k, n in enumerate(report_per_kind[i]) if n}
    overall = Times()
    for t in units.values():
        for key, some in t.blobs.items():
            overall.blobs[key] += some
        for key, n in t.n.items():
            overall.n[key] = overall.n.get(key, 0) + n
    order = sorted(units, key=lambda u: (u is None, u or ""))
    return {
        "volume": {
            "reports": sum(reports_ch.values()), "tickets": sum(tickets_ch.values()),
            "reports_by_channel": ranked(reports_ch),
            "reports_by_kind": _kinds(report_per_kind.sum(axis=0)),
            "tickets_by_channel": ranked(tickets_ch),
            "tickets_by_kind": _kinds(per_kind.sum(axis=0)),
            "days": series,
        },
        "response_times": overall.times(),
        "sla": overall.slas(now),
        "units": [{"unit": u, "tickets": units[u].n["tickets"], "open": units[u].n["open"],
                   "resolved": units[u].n["resolved"], **units[u].times(),
                   "sla": units[u].slas(now)}
                  for u in order if units[u].n["tickets"]],
        **_extras(extras, np.frombuffer(b"".join(top), "<i8").reshape(-1, 2)),
        "satisfaction": _satisfaction(survey, units, order),
        "places": await _places(session, first, last, scope, principal, rules),
    }


async def _places(session: AsyncSession, first: int, last: int, scope: Scope,
                  principal: Principal, rules: AccessSettings) -> list[dict[str, Any]]:
    """The places named in most reports of the period (confidential ones never count)."""
    conds = [P.day >= first, P.day <= last,
             access.visible(principal, rules, unit=P.unit, confidential=false())]
    if scope.unit:
        conds.append(P.unit == scope.unit)
    if scope.channel:
        conds.append(P.channel == scope.channel)
    total = func.sum(P.reports)
    rows = await session.execute(select(P.place, total).where(*conds).group_by(P.place)
                                 .order_by(total.desc(), P.place).limit(TOP))
    return [{"place": place, "reports": int(n)} for place, n in rows]


def _per_day(blobs: list[tuple[int, bytes]], n: int) -> np.ndarray:
    """Counts per kind (columns) per day of the period (rows)."""
    out = np.zeros((n, len(KINDS)), np.int64)
    if blobs:
        np.add.at(out, [i for i, _ in blobs], _ints([b for _, b in blobs], len(KINDS)))
    return out


def _kinds(counts: np.ndarray) -> dict[str, int]:
    return ranked(Counter({KINDS[k]: int(n) for k, n in enumerate(counts) if n}))


def _extras(extras: list[dict[str, Any]], top: np.ndarray) -> dict[str, Any]:
    esc: Counter[str] = Counter()
    escalated: set[int] = set()
    viral: set[int] = set()
    reopened: Counter[str] = Counter()
    episodes = 0
    for e in extras:
        esc.update(e.get("esc", {}))
        escalated.update(e.get("et", ()))
        episodes += e.get("vir", 0)
        viral.update(e.get("vt", ()))
        reopened.update(e.get("reo", {}))
    largest = top[np.lexsort((top[:, 1], -top[:, 0]))][:TOP] if len(top) else top
    return {
        "escalations": {"escalated": sum(esc.values()), "escalated_tickets": len(escalated),
                        "by_level": ranked(esc), "viral_episodes": episodes,
                        "viral_tickets": len(viral)},
        "recurring": {"largest": [int(tid) for _, tid in largest],
                      "reopened": sum(reopened.values()), "reopened_tickets": len(reopened),
                      "most_reopened": list(ranked(reopened).items())[:TOP]},
    }


def _satisfaction(survey: dict[str | None, list[bytes]], units: dict[str | None, Times],
                  order: list[str | None]) -> dict[str, Any]:
    def tally(blobs: list[bytes], respondents: int) -> ikm.Tally:
        t = ikm.Tally(respondents=respondents)
        counts = _ints(blobs, len(SURVEY_KEYS) * 4).sum(axis=0).reshape(-1, 4)
        for e, element in enumerate(SURVEY_KEYS):
            for s in range(4):
                if counts[e, s]:
                    t.add(element, s + 1, int(counts[e, s]))
        return t

    per_unit = {u: tally(survey[u], units[u].n["respondents"]) for u in order if u in survey}
    total = ikm.Tally()
    for t in per_unit.values():
        total.merge(t)
    served = {u: units[u].n["served"] for u in order}
    return {
        **ikm.index(total, sum(served.values())),
        "units": [{"unit": u, **ikm.index(per_unit[u], served[u])}
                  for u in order if u in per_unit],
    }


async def titles(session: AsyncSession, recurring: dict[str, Any]) -> dict[str, Any]:
    """The recurring-problem lists with each ticket's number and title (none shown for
    a confidential ticket)."""
    ids = recurring.pop("largest")
    counts = dict(recurring.pop("most_reopened"))
    wanted = sorted(set(ids) | {int(t) for t in counts})
    about: dict[int, dict[str, Any]] = {}
    if wanted:
        rows = await session.execute(
            select(Ticket.id, Ticket.number, Ticket.title, Ticket.report_count, Ticket.state,
                   Ticket.unit, Ticket.confidential).where(Ticket.id.in_(wanted)))
        about = {tid: {"number": n, "title": CONFIDENTIAL if sealed else title,
                       "reports": count, "state": state, "unit": unit}
                 for tid, n, title, count, state, unit, sealed in rows}
    recurring["largest_clusters"] = [about[i] for i in ids if i in about]
    recurring["most_reopened"] = [{**about[int(t)], "times": n} for t, n in counts.items()
                                  if int(t) in about]
    return recurring


async def backlog(session: AsyncSession, scope: Scope, principal: Principal,
                  rules: AccessSettings, today: int) -> dict[str, Any]:
    """Tickets open now, by age in days (since the local day received) and by state."""
    rows = (await session.execute(
        select(C.day, C.open, C.states).where(C.open > 0, *_where(scope, principal, rules))
    )).all()
    ages = np.repeat(np.array([today - r[0] for r in rows], dtype=np.float64),
                     [r[1] for r in rows])
    states = _ints([r[2] for r in rows if r[2] is not None], len(STATES)).sum(axis=0)
    upper = np.array([b[0] for b in AGE_BUCKETS[:-1]])
    counts = np.bincount(np.searchsorted(upper, ages, side="right"),
                         minlength=len(AGE_BUCKETS))
    return {
        "open": int(len(ages)),
        "by_state": ranked(Counter({STATES[k]: int(n) for k, n in enumerate(states) if n})),
        "by_age": [{"bucket": id_, "bucket_en": en,
                    "max_days": None if hi == float("inf") else hi, "count": int(n)}
                   for (hi, id_, en), n in zip(AGE_BUCKETS, counts, strict=True)],
        "oldest_days": int(ages.max()) if len(ages) else None,
    }
