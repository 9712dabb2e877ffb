"""The ingest pipeline: idempotent, grouped, and nothing ticketed twice."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import func, select

from aggregator.domain import Attachment, Author, Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from storage.db import create_engine, session_factory
from storage.models import Attachment as AttachmentRow
from storage.models import ConnectorState, Outbox, Reporter, Ticket, TicketEvent
from storage.models import Report as ReportRow


def complaint(i: int, **kw) -> Report:
    base = dict(
        source="lapor", channel="web-form", external_id=f"r-{i}",
        text=f"Antrian pendaftaran di RSUD nomor {i} sangat lama, sudah {i % 7 + 2} jam menunggu",
        author=Author(handle=f"warga{i}@example.id", name=f"Warga {i}"),
    )
    base.update(kw)
    return Report(**base)


async def count(sessions, model) -> int:
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_200_concurrent_calls_with_repeats_across_two_replicas(db_url, settings):
    """Two independent ingestors (as two daemon replicas would be) race on the same
    reports; every distinct report is stored once and opens exactly one ticket."""
    settings = settings.model_copy(update={"dedup": settings.dedup.model_copy(
        update={"enabled": False})})
    engines = [create_engine(db_url), create_engine(db_url)]
    ingestors = [Ingestor(session_factory(e), Pipeline(settings)) for e in engines]
    distinct = 120
    calls = [complaint(i % distinct) for i in range(200)]
    random.Random(7).shuffle(calls)
    results = await asyncio.gather(
        *(ingestors[n % 2].submit([r]) for n, r in enumerate(calls))
    )
    for ing in ingestors:
        await ing.close()
    sessions = session_factory(engines[0])
    assert await count(sessions, ReportRow) == distinct
    assert await count(sessions, Ticket) == distinct
    by_id: dict[str, set[str]] = {}
    for report, (res,) in zip(calls, results, strict=True):
        by_id.setdefault(report.external_id, set()).add(res.ticket_number)
    assert all(len(numbers) == 1 for numbers in by_id.values())
    assert sum(res.created_report for (res,) in results) == distinct
    async with sessions() as s:
        numbers = (await s.execute(select(Ticket.number))).scalars().all()
    assert len(set(numbers)) == distinct
    assert all(n.startswith("ADU-") for n in numbers)
    for e in engines:
        await e.dispose()


async def test_repeat_reply_and_ticket_ref_attach(sessions, settings):
    ing = Ingestor(sessions, Pipeline(settings))
    (first,) = await ing.submit([complaint(1)])
    assert first.created_ticket and first.match_reason == "new"
    # The same person sends the same text again through another id: same ticket.
    (again,) = await ing.submit([complaint(1, external_id="r-1-bis")])
    assert again.ticket_number == first.ticket_number and again.match_reason == "same_reporter"
    # A reply to the first message.
    (reply,) = await ing.submit([complaint(2, text="Ada kabar?", reply_to=("nope", "r-1"))])
    assert reply.ticket_number == first.ticket_number and reply.match_reason == "reply"
    # A stranger naming the ticket number.
    (ref,) = await ing.submit([complaint(3, text="Saya juga", ticket_ref=first.ticket_number)])
    assert ref.ticket_number == first.ticket_number and ref.match_reason == "ticket_ref"
    # An unrelated complaint opens its own ticket.
    (other,) = await ing.submit([complaint(4, text="Jalan berlubang di depan kantor camat")])
    assert other.created_ticket and other.ticket_number != first.ticket_number
    await ing.close()
    async with sessions() as s:
        t = (await s.execute(
            select(Ticket).where(Ticket.number == first.ticket_number))).scalar_one()
        assert t.report_count == 4
        types = (await s.execute(
            select(TicketEvent.type).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)
        )).scalars().all()
    assert types == ["created", "report_added", "report_added", "report_added"]


async def test_cursor_commits_with_reports_and_ack_is_queued(sessions, settings):
    ing = Ingestor(sessions, Pipeline(settings))
    await ing.submit([complaint(1, ack=True), complaint(2, ack=True)],
                     cursor={"uid": 2}, connector="lapor")
    # A repeat is not acknowledged twice.
    await ing.submit([complaint(1, ack=True)], cursor={"uid": 3}, connector="lapor")
    await ing.close()
    async with sessions() as s:
        state = await s.get(ConnectorState, "lapor")
        assert state is not None and state.cursor == {"uid": 3}
        kinds = (await s.execute(select(Outbox.kind))).scalars().all()
    assert kinds == ["ack", "ack"]


async def test_a_poison_report_fails_alone(sessions, settings):
    ing = Ingestor(sessions, Pipeline(settings))
    bad = complaint(99, meta={"not": {"json", "serialisable"}})
    good = [complaint(i) for i in range(5)]
    outcomes = await asyncio.gather(
        *(ing.submit([r]) for r in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    await ing.close()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1 and outcomes[2] is failures[0]
    assert await count(sessions, ReportRow) == 5


async def test_reports_in_one_batch_see_each_other(sessions, settings):
    """A repeat, a reply and a ticket reference to a report in the same transaction
    land on the ticket that report opened moments before."""
    ing = Ingestor(sessions, Pipeline(settings))
    first, repeat, reply = await ing.submit([
        complaint(1),
        complaint(1, external_id="r-1-again"),
        complaint(2, text="Sudah dua hari belum ada jawaban", reply_to=("r-1",)),
    ])
    (ref,) = await ing.submit([complaint(3, text="sama", ticket_ref=first.ticket_number)])
    await ing.close()
    assert first.created_ticket
    assert (repeat.match_reason, repeat.ticket_number) == ("same_reporter", first.ticket_number)
    assert (reply.match_reason, reply.ticket_number) == ("reply", first.ticket_number)
    assert ref.ticket_number == first.ticket_number
    async with sessions() as s:
        t = (await s.execute(select(Ticket).where(Ticket.number == first.ticket_number))
             ).scalar_one()
    assert t.report_count == 4


async def test_nul_and_lone_surrogates_are_cleaned_before_storage(sessions, settings):
    """Broken clients send NUL and unpaired surrogates; PostgreSQL cannot store them."""
    ing = Ingestor(sessions, Pipeline(settings))
    (res,) = await ing.submit([Report(
        source="tg", channel="telegram", external_id="1",
        text="Air\x00 mati di RT 05 \ud800", title="Air\x00mati",
        author=Author(handle="77", name="Bu\x00di"))])
    await ing.close()
    async with sessions() as s:
        row = await s.get(ReportRow, res.report_id)
        who = await s.get(Reporter, row.reporter_id)
    assert row.text == "Air mati di RT 05 ?" and row.title == "Airmati"
    assert who.name == "Budi"


async def test_attachment_names_and_types_are_cleaned_too(sessions, settings):
    """A mangled mail part ("mul\\x00tipart/alternative") is still stored."""
    ing = Ingestor(sessions, Pipeline(settings))
    (res,) = await ing.submit([Report(
        source="mail", channel="email", external_id="m1", text="Air mati di RT 05",
        author=Author(handle="a@example.org"),
        attachments=(Attachment(filename="fo\x00to.jpg", content_type="mul\x00tipart/x",
                                size=3, data=b"abc", note="cut\x00"),))])
    await ing.close()
    async with sessions() as s:
        (att,) = (await s.execute(select(AttachmentRow).where(
            AttachmentRow.report_id == res.report_id))).scalars().all()
    assert (att.filename, att.content_type) == ("foto.jpg", "multipart/x")
