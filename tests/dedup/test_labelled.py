"""The bar: complaints a labelled set groups together land on one ticket per group,
different incidents on different tickets, through the real Ingestor + Pipeline."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from aggregator.dedup import build_matcher
from aggregator.dedup.evaluate import load, pairwise, to_reports
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.models import Report as ReportRow
from storage.models import Ticket, TicketEvent
from storage.types import utcnow

LABELLED = Path(__file__).resolve().parents[1] / "data" / "dedup_labelled.jsonl"


async def test_labelled_set_precision_and_recall(sessions, settings):
    records = load(LABELLED)
    assert len(records) >= 300 and len({r["cluster"] for r in records}) >= 60
    ingestor = Ingestor(sessions, Pipeline(settings, matcher=build_matcher(settings)))
    reports = to_reports(records, utcnow())
    # Concurrent, as connectors submit: the ingestor groups them into transactions in
    # arrival order, and reports of one transaction see each other.
    results = await asyncio.gather(*(ingestor.submit([r]) for r in reports))
    await ingestor.close()
    tickets = {r.external_id: res.ticket_number for r, (res,) in zip(reports, results,
                                                                      strict=True)}
    scores = pairwise({r["id"]: r["cluster"] for r in records}, tickets)
    print(scores.line())
    assert scores.precision >= 0.95, scores.line()
    assert scores.recall >= 0.85, scores.line()

    # A folded report is recorded on its ticket with its score and what it matched.
    async with sessions() as s:
        event = (await s.execute(
            select(TicketEvent).where(TicketEvent.type == "report_added")
            .order_by(TicketEvent.id).limit(1)
        )).scalar_one()
        assert event.data["reason"] == "near_duplicate"
        assert 0 < event.data["score"] <= 1
        matched = await s.get(ReportRow, event.data["matched_report_id"])
        assert matched is not None and matched.ticket_id == event.ticket_id
        ticket = await s.get(Ticket, event.ticket_id)
        assert ticket.report_count >= 2
