"""A small month of tickets with known times, reports, events and survey answers,
written straight into the tables; the figures it must give are worked out by hand in
test_figures.py. Times are Jakarta wall-clock (UTC+7); the office works 08:00-16:00,
Monday to Friday; 17 November is a holiday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DedupDoc, Report, Reporter, SurveyAnswer, Ticket, TicketEvent

SLA = {"calendar": {"timezone": "Asia/Jakarta", "working_hours": "08:00-16:00",
                    "holidays": ["2026-11-17"]}}
NOW = "2026-11-30T14:00"


def at(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=7)


#      id  created            first response     fr due             resolved
#          resolution due     state          unit        reports (channel, day, reporter)
TICKETS: list[dict[str, Any]] = [
    dict(id=1, created="2026-11-02T09:00", fr="2026-11-02T10:00", fr_due="2026-11-02T12:00",
         resolved="2026-11-02T15:00", due="2026-11-04T09:00", state="resolved",
         unit="Dinas PU", reports=[("email", "2026-11-02T09:00", 1),
                                   ("email", "2026-11-03T08:00", 3),
                                   ("telegram", "2026-11-03T09:00", 6)]),
    dict(id=2, created="2026-11-06T15:00", fr="2026-11-09T10:00", fr_due="2026-11-09T09:00",
         resolved="2026-11-11T12:00", due="2026-11-12T15:00", state="closed",
         unit="Dinas PU", reports=[("telegram", "2026-11-06T15:00", 2)]),
    dict(id=3, created="2026-11-07T10:00", fr="2026-11-09T08:30", fr_due="2026-11-09T12:00",
         resolved=None, due="2026-11-12T08:00", state="in_progress", unit="Dinsos",
         reports=[("web-form", "2026-11-07T10:00", 7)]),
    dict(id=4, created="2026-11-16T15:00", fr="2026-11-18T09:00", fr_due="2026-11-18T08:30",
         resolved="2026-11-18T16:00", due="2026-11-20T15:00", state="resolved", unit="Dinsos",
         reports=[("email", "2026-11-16T15:00", 4)]),
    dict(id=5, created="2026-11-23T10:00", fr=None, fr_due="2026-11-24T10:00", resolved=None,
         due="2026-11-26T10:00", state="closed", unit=None,
         reports=[("email", "2026-11-23T10:00", 8)]),
    dict(id=6, created="2026-11-30T10:00", fr=None, fr_due="2026-12-01T10:00", resolved=None,
         due="2026-12-03T10:00", state="new", unit=None,
         reports=[("telegram", "2026-11-30T10:00", 9)]),
    # Outside the month: never counted in November.
    dict(id=7, created="2026-10-31T10:00", fr=None, fr_due="2026-11-02T10:00",
         resolved="2026-11-05T10:00", due="2026-11-05T10:00", state="resolved",
         unit="Dinas PU", reports=[("email", "2026-10-31T10:00", 10)]),
]

EVENTS = [  # (ticket, at, type, data)
    (3, "2026-11-13T09:00", "escalated", {"from": 0, "to": 2, "name": "kepala unit"}),
    (2, "2026-11-07T10:00", "virality_changed", {"from": 0, "to": 1}),
    (2, "2026-11-07T11:00", "virality_changed", {"from": 1, "to": 2}),
    (2, "2026-11-08T11:00", "virality_changed", {"from": 2, "to": 0}),
    (2, "2026-11-09T11:00", "virality_changed", {"from": 0, "to": 1}),
    (2, "2026-11-10T10:00", "state_changed", {"from": "in_progress", "to": "resolved"}),
    (2, "2026-11-10T11:00", "state_changed", {"from": "resolved", "to": "in_progress"}),
    (2, "2026-11-11T12:00", "state_changed", {"from": "in_progress", "to": "resolved"}),
]

ALL = ("persyaratan", "prosedur", "waktu", "biaya", "produk", "kompetensi", "perilaku",
       "pengaduan", "sarana")
ANSWERS = [  # (ticket, respondent, at, {element: score})
    (1, "r:1", "2026-11-03T10:00", dict.fromkeys(ALL, 4)),
    # The same person again: kept, and their latest answer counts.
    (1, "r:1", "2026-11-04T10:00", {**dict.fromkeys(ALL, 4), "persyaratan": 2}),
    (2, "r:2", "2026-11-12T10:00", {**dict.fromkeys(ALL, 3), "overall": 4}),
    (4, "r:4", "2026-11-19T10:00", {**dict.fromkeys(ALL, 3), "sarana": 2}),
    (4, "r:5", "2026-11-19T11:00", {"overall": 2}),
    (7, "r:10", "2026-10-31T12:00", dict.fromkeys(ALL, 1)),  # October: not counted
]

PLACES = {1: "rsud:soetomo|pasar:kliwon", 2: "rsud:soetomo", 4: "pasar:kliwon",
          3: "sekolah:sdn 3"}  # by report id (3 is the month's 3rd report row, on ticket 1)


async def load(session: AsyncSession) -> None:
    await session.execute(insert(Reporter), [
        {"id": i, "source": "src", "handle": f"h{i}", "banned": False,
         "created_at": at("2026-10-01T00:00")} for i in range(1, 11)])
    report_id = 0
    for t in TICKETS:
        await session.execute(insert(Ticket), [{
            "id": t["id"], "number": f"ADU-2026-{t['id']:06d}", "title": f"Tiket {t['id']}",
            "state": t["state"], "priority": 1, "kind": "complaint", "unit": t["unit"],
            "confidential": False, "escalation_level": 0, "virality_score": 0.0,
            "report_count": len(t["reports"]), "created_at": at(t["created"]),
            "updated_at": at(t["created"]), "first_response_at": at(t["fr"]),
            "first_response_due_at": at(t["fr_due"]), "resolved_at": at(t["resolved"]),
            "sla_due_at": at(t["due"])}])
        for channel, when, reporter in t["reports"]:
            report_id += 1
            await session.execute(insert(Report), [{
                "id": report_id, "source": "src", "channel": channel,
                "external_id": f"x{report_id}", "ticket_id": t["id"], "reporter_id": reporter,
                "text": "keluhan", "text_hash": "h", "kind": "complaint",
                "received_at": at(when), "meta": {}}])
    await session.execute(insert(DedupDoc), [
        {"report_id": rid, "places": places, "at": at("2026-11-02T09:00")}
        for rid, places in PLACES.items()])
    await session.execute(insert(TicketEvent), [
        {"ticket_id": tid, "at": at(when), "actor": "system", "type": kind, "data": data}
        for tid, when, kind, data in EVENTS])
    await session.execute(insert(SurveyAnswer), [
        {"ticket_id": tid, "respondent": who, "channel": "email", "element": element,
         "score": score, "at": at(when)}
        for tid, who, when, answers in ANSWERS for element, score in answers.items()])
