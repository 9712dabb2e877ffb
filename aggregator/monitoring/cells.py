"""Building the figure cells: a span of local days summarised from the tables.

A cell is one local day, one unit, one confidentiality (the two things the access
rules look at) and one channel, so anyone's figures, for any unit or channel, are a
sum of cells. What a cell holds, all exact (durations are kept one by one):

- the tickets received that day through that channel (their first report's): how
  many, by kind, how many still open (by state) and resolved; working seconds to the
  first response and to the resolution (`fr`, `rs`); each deadline met or missed, or,
  when not decided yet, its due time (`frd`, `rsd`: judged when figures are read);
- the reports received that day through that channel, by kind, and the places they
  name; the reporters of the tickets resolved that day (people served);
- the survey questionnaires (one person, one ticket) whose last answer fell that day:
  respondents and each person's latest answer per element (`survey`: int32 counts,
  [element][score 1-4], elements as in `SURVEY_KEYS`);
- audit events that day: escalations by level, viral episodes, reopenings.

Counts are columns and arrays are packed numbers (little-endian), so a year of cells
is read with a few sums and `numpy.frombuffer`, not a parse. A ticket's unit,
confidentiality and channel are read when the cell is built; the rollup (rollup.py)
rebuilds every day a changed ticket touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.domain import IKM_ELEMENTS, OPEN_STATES, OVERALL_RATING, ReportKind
from aggregator.events import EventType
from aggregator.monitoring import cohort as cohort_
from aggregator.monitoring import timing
from aggregator.monitoring.scope import origin_channel
from aggregator.monitoring.sql import day_number, epoch
from aggregator.sla.calendar import Calendar
from storage import repo
from storage.models import (
    DedupDoc,
    MonitoringCell,
    MonitoringPlace,
    Report,
    SurveyAnswer,
    Ticket,
    TicketEvent,
)

KINDS = (*(k.value for k in ReportKind), "other")
STATES = ("new", "in_progress", "waiting")
SURVEY_KEYS = (*IKM_ELEMENTS, OVERALL_RATING)
OPEN = frozenset(s.value for s in OPEN_STATES)
FINISHED = ("resolved", "closed")
TOP = 10
COUNTS = ("tickets", "open", "resolved", "frm", "frb", "rsm", "rsb", "reports", "served",
          "respondents")
Key = tuple[int, str | None, bool, str]


def kind_index(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS) - 1


@dataclass
class Cell:
    day: int
    unit: str | None
    confidential: bool
    channel: str
    n: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    kinds: np.ndarray = field(default_factory=lambda: np.zeros(len(KINDS), np.int32))
    states: np.ndarray = field(default_factory=lambda: np.zeros(len(STATES), np.int32))
    report_kinds: np.ndarray = field(default_factory=lambda: np.zeros(len(KINDS), np.int32))
    survey: np.ndarray = field(default_factory=lambda: np.zeros(len(SURVEY_KEYS) * 4,
                                                                 np.int32))
    times: dict[str, list[float]] = field(
        default_factory=lambda: {"fr": [], "rs": [], "frd": [], "rsd": []})
    top: list[tuple[int, int]] = field(default_factory=list)  # (reports, ticket id)
    places: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"day": self.day, "unit": self.unit, "confidential": self.confidential,
                "channel": self.channel, **self.n,
                "kinds": ints(self.kinds), "states": ints(self.states),
                "report_kinds": ints(self.report_kinds), "survey": ints(self.survey),
                **{k: floats(v) for k, v in self.times.items()},
                "top": np.asarray(self.top, "<i8").tobytes() if self.top else None,
                "extra": self.extra or None}


def ints(a: np.ndarray) -> bytes | None:
    return a.astype("<i4").tobytes() if a.any() else None


def floats(values: list[float]) -> bytes | None:
    return np.asarray(values, "<f8").tobytes() if values else None


class Cells:
    def __init__(self) -> None:
        self.cells: dict[Key, Cell] = {}

    def at(self, day: int, unit: str | None, confidential: bool, channel: str | None) -> Cell:
        key = (day, unit, bool(confidential), channel or "")
        if key not in self.cells:
            self.cells[key] = Cell(*key)
        return self.cells[key]


def _add(d: dict[str, Any], key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


async def build(session: AsyncSession, cal: Calendar, days: timing.Days, first: int,
                last: int) -> list[Cell]:
    """The cells of local days `first`..`last` (inclusive), from the tables."""
    start, end = days.start(first), days.start(last + 1)
    cells = Cells()
    await _tickets(session, cal, days, start, end, cells)
    await _reports(session, days, start, end, cells)
    await _served(session, days, start, end, cells)
    await _events(session, days, start, end, cells)
    await _survey(session, days, first, last, start, end, cells)
    return [c for c in cells.cells.values() if first <= c.day <= last]


async def store(session: AsyncSession, first: int, last: int, cells: list[Cell]) -> None:
    """Replace the stored cells of days `first`..`last` with these."""
    await session.execute(delete(MonitoringCell).where(MonitoringCell.day >= first,
                                                       MonitoringCell.day <= last))
    await session.execute(delete(MonitoringPlace).where(MonitoringPlace.day >= first,
                                                        MonitoringPlace.day <= last))
    for chunk in repo.chunks([c.row() for c in cells], 200):
        await session.execute(insert(MonitoringCell), chunk)
    places = [{"day": c.day, "unit": c.unit, "channel": c.channel, "place": p[:200],
               "reports": n} for c in cells for p, n in c.places.items()]
    for chunk in repo.chunks(places, 500):
        await session.execute(insert(MonitoringPlace), chunk)


async def _tickets(session: AsyncSession, cal: Calendar, days: timing.Days,
                   start: datetime, end: datetime, cells: Cells) -> None:
    c, extra = await cohort_.load(session, start, end, [Ticket.merged_into_id.is_(None)],
                                  extra=(Ticket.confidential,))
    # Deadlines decided by now stay decided; the rest are kept as due times and judged
    # when the figures are read.
    m = cohort_.measure(c, cal, float("-inf"))
    day = days.of(c.created)
    for i in range(len(c)):
        cell = cells.at(int(day[i]), c.unit[i], bool(extra[i][0]), c.channel[i])
        cell.n["tickets"] += 1
        cell.kinds[kind_index(c.kind[i])] += 1
        if c.state[i] in OPEN:
            cell.n["open"] += 1
            cell.states[STATES.index(c.state[i])] += 1
        for short, took, outcome, due in (
                ("fr", m.first_response, m.sla_first, c.first_response_due),
                ("rs", m.resolution, m.sla_resolution, c.resolution_due)):
            if not np.isnan(took[i]):
                cell.times[short].append(float(took[i]))
            if outcome[i] == timing.MET:
                cell.n[short + "m"] += 1
            elif outcome[i] == timing.BREACHED:
                cell.n[short + "b"] += 1
            elif outcome[i] == timing.PENDING:  # not done: met or missed depends on when
                cell.times[short + "d"].append(float(due[i]))
        if not np.isnan(c.resolved[i]):
            cell.n["resolved"] += 1
        if c.report_count[i] > 1:
            cell.top.append((int(c.report_count[i]), int(c.ids[i])))
            if len(cell.top) > TOP:
                cell.top.sort(key=lambda x: (-x[0], x[1]))
                del cell.top[TOP:]


async def _reports(session: AsyncSession, days: timing.Days, start: datetime, end: datetime,
                   cells: Cells) -> None:
    day = day_number(epoch(Report.received_at), days.offset)
    in_span = (Report.received_at >= start, Report.received_at < end)
    rows = (await session.execute(
        select(day, Ticket.unit, Ticket.confidential, Report.channel, Report.kind, func.count())
        .join(Ticket, Ticket.id == Report.ticket_id).where(*in_span)
        .group_by(day, Ticket.unit, Ticket.confidential, Report.channel, Report.kind))).all()
    for d, unit, sealed, channel, kind, n in rows:
        cell = cells.at(int(d), unit, sealed, channel)
        cell.n["reports"] += int(n)
        cell.report_kinds[kind_index(kind)] += int(n)
    places = (await session.execute(
        select(day, Ticket.unit, Report.channel, DedupDoc.places, func.count())
        .join(Report, Report.id == DedupDoc.report_id)
        .join(Ticket, Ticket.id == Report.ticket_id)
        .where(*in_span, DedupDoc.places != "", Ticket.confidential.is_(False))
        .group_by(day, Ticket.unit, Report.channel, DedupDoc.places))).all()
    for d, unit, channel, raw, n in places:
        # "kind:name words|kind:name words": each place once per report.
        part = cells.at(int(d), unit, False, channel).places
        for name in {" ".join(p.replace(":", " ").split()) for p in raw.split("|") if p}:
            _add(part, name, int(n))


async def _served(session: AsyncSession, days: timing.Days, start: datetime, end: datetime,
                  cells: Cells) -> None:
    """People served: the reporters of each ticket resolved that day."""
    rows = (await session.execute(
        select(epoch(Ticket.resolved_at), Ticket.unit, Ticket.confidential, origin_channel(),
               func.count(func.distinct(func.coalesce(Report.reporter_id, -Report.id))))
        .join(Report, Report.ticket_id == Ticket.id)
        .where(Ticket.resolved_at >= start, Ticket.resolved_at < end)
        .group_by(Ticket.id))).all()
    for at, unit, sealed, channel, n in rows:
        cells.at(days.of_one(at), unit, sealed, channel).n["served"] += int(n)


async def _about(session: AsyncSession, ids: set[int]) -> dict[int, tuple[Any, ...]]:
    """(unit, confidential, channel) of these tickets."""
    out: dict[int, tuple[Any, ...]] = {}
    for chunk in repo.chunks(sorted(ids)):
        rows = await session.execute(select(Ticket.id, Ticket.unit, Ticket.confidential,
                                            origin_channel()).where(Ticket.id.in_(chunk)))
        out.update({tid: (unit, sealed, ch or "") for tid, unit, sealed, ch in rows})
    return out


async def _events(session: AsyncSession, days: timing.Days, start: datetime, end: datetime,
                  cells: Cells) -> None:
    in_span = (TicketEvent.at >= start, TicketEvent.at < end)
    rows = (await session.execute(
        select(TicketEvent.ticket_id, epoch(TicketEvent.at), TicketEvent.type,
               TicketEvent.data)
        .where(TicketEvent.type.in_([str(EventType.ESCALATED),
                                     str(EventType.VIRALITY_CHANGED)]), *in_span))).all()
    reopened = (await session.execute(
        select(TicketEvent.ticket_id, epoch(TicketEvent.at))
        .where(TicketEvent.type == str(EventType.STATE_CHANGED), *in_span,
               TicketEvent.data["from"].as_string().in_(FINISHED)))).all()
    about = await _about(session, {r[0] for r in rows} | {r[0] for r in reopened})
    for tid, at, kind, data in rows:
        e = cells.at(days.of_one(at), *about[tid]).extra
        data = data or {}
        if kind == EventType.ESCALATED:
            _add(e.setdefault("esc", {}), str(data.get("name") or data.get("to")))
            e.setdefault("et", []).append(tid)
        elif _level(data.get("from")) == 0 and _level(data.get("to")) > 0:
            _add(e, "vir")  # a quiet ticket started to go viral
            e.setdefault("vt", []).append(tid)
    for tid, at in reopened:
        _add(cells.at(days.of_one(at), *about[tid]).extra.setdefault("reo", {}), str(tid))


def _level(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


async def _survey(session: AsyncSession, days: timing.Days, first: int, last: int,
                  start: datetime, end: datetime, cells: Cells) -> None:
    """A questionnaire (one person on one ticket) counts on the day of its last answer,
    with that person's latest answer to each element."""
    touched = set((await session.execute(
        select(SurveyAnswer.ticket_id)
        .where(SurveyAnswer.at >= start, SurveyAnswer.at < end))).scalars())
    rows: list[Any] = []
    for chunk in repo.chunks(sorted(touched)):  # a list, so both databases use the index
        rows += (await session.execute(
            select(SurveyAnswer.ticket_id, SurveyAnswer.respondent, SurveyAnswer.element,
                   SurveyAnswer.score, epoch(SurveyAnswer.at), SurveyAnswer.id)
            .where(SurveyAnswer.ticket_id.in_(chunk)))).all()
    rows.sort(key=lambda r: r[-1])
    people: dict[tuple[int, str], tuple[float, dict[str, int]]] = {}
    for tid, who, element, score, at, _ in rows:
        last_at, answers = people.get((tid, who), (at, {}))
        answers[element] = int(score)  # in id order: the latest wins
        people[(tid, who)] = (max(last_at, at), answers)
    about = await _about(session, {tid for tid, _ in people})
    for (tid, _), (at, answers) in people.items():
        day = days.of_one(at)
        if not first <= day <= last:
            continue
        cell = cells.at(day, *about[tid])
        for element, score in answers.items():
            if element in SURVEY_KEYS and 1 <= score <= 4:
                cell.survey[SURVEY_KEYS.index(element) * 4 + score - 1] += 1
        if any(e in answers for e in IKM_ELEMENTS):
            cell.n["respondents"] += 1

