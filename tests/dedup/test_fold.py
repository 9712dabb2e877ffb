"""Fragments of one incident: a viral flood opens two tickets before any report links
them; a later report that matches two reports of each folds the younger ticket into
the older one, as a staff merge would (audit events, the moved reporters told their
new number). So does a report that matches one report of a fragment whose reports
match the other's across (average linkage over both tickets' reports). Two incidents a
vague report happens to fit stay apart."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from aggregator.config import parse
from aggregator.dedup.features import extract
from aggregator.dedup.verdict import compare
from aggregator.domain import Author, Report
from storage.models import Outbox, Ticket, TicketEvent
from storage.models import Report as ReportRow
from storage.types import utcnow

FLOOD = [
    "Perumahan Griya Kencana Bekasi banjir lagi setinggi dada, warga butuh perahu karet "
    "dan makanan!! #banjirbekasi",
    "Banjir di Griya Kencana makin tinggi, kami terjebak di lantai 2. Tolong evakuasi "
    "@BPBDBekasi",
    # Another district named: a ticket of its own at first.
    "Min banjir di Perumahan Griya Kencana Jatisampurna setinggi 1,5 meter, banyak lansia "
    "belum dievakuasi",
    "Banjir setinggi 1,5 meter merendam Perumahan Griya Kencana Jatisampurna, lansia "
    "membutuhkan evakuasi dan bantuan logistik.",
    # Fits both tickets, two reports of each.
    "Update banjir Griya Kencana: air masih setinggi dada, warga di blok C dan D belum "
    "dievakuasi",
]

WATER = [
    "PDAM Tirta Pakuan air mati 3 hari di Baranangsiang, warga terpaksa beli air galon "
    "buat mandi",
    "Lapor min, air PDAM di Kelurahan Baranangsiang Bogor tidak mengalir sudah 3 hari",
    "PDAM Tirta Pakuan air mati 3 hari di Bantarjati, warga beli air galon buat mandi",
    "Min air PDAM di Kelurahan Bantarjati Bogor tidak mengalir sudah tiga hari",
    "udh 4 hari air pdam baranangsiang mati total. tagihan jalan terus",
]


def report(i: int, text: str) -> Report:
    return Report(source="x", channel="twitter", external_id=str(i), text=text,
                  author=Author(handle=f"warga{i}"), ack=True)


async def test_report_matching_two_fragments_folds_them(sessions, ingest):
    results = [await ingest(report(i, text)) for i, text in enumerate(FLOOD)]
    first, _, second, *_ = results
    assert first.ticket_number != second.ticket_number  # split early
    assert results[-1].ticket_number == first.ticket_number

    async with sessions() as s:
        on = {ext: tid for ext, tid in await s.execute(
            select(ReportRow.external_id, ReportRow.ticket_id))}
        assert set(on.values()) == {first.ticket_id}  # every report on the older ticket
        old = await s.get(Ticket, second.ticket_id)
        kept = await s.get(Ticket, first.ticket_id)
        assert old.state == "closed" and old.merged_into_id == kept.id
        assert kept.report_count == len(FLOOD) and old.report_count == 0
        merged = (await s.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == kept.id, TicketEvent.type == "merged"))).scalar_one()
        # Staff see who merged, what moved and which report tied them.
        assert merged.actor == "system:matcher"
        assert merged.data["from"] == second.ticket_number
        assert merged.data["reports_moved"] == 2
        assert merged.data["why"]["report"] == "x:4"
        # The moved reporters hear their new number.
        told = (await s.execute(select(Outbox).where(
            Outbox.kind == "ack", Outbox.payload["reason"].as_string() == "merged"))
        ).scalars().all()
        assert sorted(o.payload["report_external_id"] for o in told) == ["2", "3"]
        assert {o.ticket_id for o in told} == {kept.id}

    # The folded ticket's number still leads to the surviving one.
    again = await ingest(Report(source="x", channel="twitter", external_id="9",
                                text="Ada kabar evakuasi?", author=Author(handle="warga2"),
                                ticket_ref=second.ticket_number))
    assert again.ticket_number == first.ticket_number


async def test_vague_report_does_not_fold_two_incidents(sessions, ingest, tmp_path):
    # The last report fits both reports of the Bantarjati outage by itself ...
    cfg = parse({}, base_dir=tmp_path, env={}).dedup
    docs = [extract(t) for t in WATER]
    assert compare(docs[4], docs[2], cfg).same and compare(docs[4], docs[3], cfg).same
    results = [await ingest(report(i, text)) for i, text in enumerate(WATER)]
    # ... but the two outages' own reports never match: two incidents stay two tickets.
    assert results[0].ticket_number == results[1].ticket_number == results[4].ticket_number
    assert results[2].ticket_number == results[3].ticket_number != results[0].ticket_number
    async with sessions() as s:
        assert not (await s.execute(
            select(TicketEvent).where(TicketEvent.type == "merged"))).first()


async def test_ticket_staff_resolved_is_not_folded(sessions, ingest):
    results = [await ingest(report(i, text)) for i, text in enumerate(FLOOD[:4])]
    async with sessions() as s, s.begin():
        resolved = await s.get(Ticket, results[2].ticket_id)
        resolved.state = "resolved"  # staff finished with the second ticket
    last = await ingest(report(4, FLOOD[4]))
    assert last.ticket_number == results[0].ticket_number
    async with sessions() as s:
        kept = await s.get(Ticket, results[2].ticket_id)
        assert kept.state == "resolved" and kept.merged_into_id is None
        assert kept.report_count == 2
        assert not (await s.execute(
            select(TicketEvent).where(TicketEvent.type == "merged"))).first()


async def test_a_name_of_one_report_does_not_keep_out_a_report_pinned_to_another(ingest):
    """The second report of a power cut names only the RT head; a third report is at
    the first report's kelurahan and names someone else. "Different names" against the
    second report does not keep it out of the ticket it is pinned to by place."""
    first = await ingest(report(1, "Listrik padam di Kelurahan Tebet sejak pagi, Pak "
                                   "Harjono ketua RT sudah lapor PLN"))
    second = await ingest(report(2, "Lampu mati dari pagi, kata Pak Harjono sudah lapor "
                                    "PLN tapi petugas belum datang"))
    third = await ingest(report(3, "Listrik padam di Kelurahan Tebet dari pagi, kata Bu "
                                   "Sumiati PLN belum datang"))
    assert first.ticket_number == second.ticket_number == third.ticket_number


# A flood told from two blocks of one estate: two tickets at first. The last report
# matches one report of the older ticket only (not the two a bridge needs), but the
# two tickets' reports match each other across: fragments of one incident.
FLOOD_BLOCKS = [
    "Perumahan Griya Kencana Bekasi banjir lagi setinggi dada, warga butuh perahu karet dan"
    " makanan!! #banjirbekasi",
    "Banjir di Griya Kencana makin tinggi, kami terjebak di lantai 2. Tolong evakuasi @BPBDBekasi",
    "Min banjir di Perumahan Griya Kencana Jatisampurna setinggi 1,5 meter, banyak lansia "
    "belum dievakuasi",
    "Banjir setinggi 1,5 meter merendam Perumahan Griya Kencana, warga membutuhkan evakuasi"
    " dan bantuan logistik.",
    "Griya Kencana Jatisampurna kebanjiran, lansia di blok F belum dievakuasi, perahu karet"
    " cuma satu",
    "tolong perahu karet ke griya kencana, air setinggi dada, kami di lantai 2 belum makan "
    "dari pagi",
]

# Two incidents at one hospital on one day, and a report that fits both.
HOSPITAL = [
    "Antrian obat di farmasi rawat jalan RSUD Dr Moewardi sudah 4 jam, loket cuma buka 2 "
    "@rsmoewardi",
    "farmasi rs moewardi lama banget, nomor antrian sy 640 baru dipanggil 310",
    "Saya menunggu obat di instalasi farmasi RSUD Dr. Moewardi Solo sejak pukul 07.00 dan "
    "belum dipanggil hingga siang.",
    "Listrik di gedung bedah RSUD Dr Moewardi padam, pasien pasca operasi kepanasan, lift mati",
    "gedung bedah moewardi mati lampu total, keluarga pasien disuruh keluar. ada apa ini?",
    "Pemadaman listrik di gedung bedah RSUD Dr Moewardi Solo hampir 2 jam, genset tidak menyala",
    "RSUD Moewardi hari ini kacau, antrian lama, listrik juga mati, pasien kepanasan",
]


def sent(i: int, text: str, n: int) -> Report:
    return Report(source="x", channel="twitter", external_id=str(i), text=text,
                  author=Author(handle=f"warga{i}"), ack=True,
                  sent_at=utcnow() - timedelta(minutes=10 * (n - i)))


async def test_fragments_whose_reports_match_across_are_folded(sessions, ingest):
    results = [await ingest(sent(i, t, len(FLOOD_BLOCKS))) for i, t in enumerate(FLOOD_BLOCKS)]
    first, second = results[0], results[2]
    assert first.ticket_number != second.ticket_number  # split early
    async with sessions() as s:
        on = {tid for (tid,) in await s.execute(select(ReportRow.ticket_id))}
        assert on == {first.ticket_id}  # the older ticket stays
        merged = (await s.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == first.ticket_id, TicketEvent.type == "merged"))
        ).scalar_one()
        assert merged.data["from"] == second.ticket_number
        assert merged.data["why"]["reason"] == "fragments of one incident"


async def test_a_report_fitting_two_incidents_at_one_place_does_not_fold_them(
        sessions, ingest, tmp_path):
    cfg = parse({}, base_dir=tmp_path, env={}).dedup
    docs = [extract(t) for t in HOSPITAL]
    # The last report matches two reports of the pharmacy queue and the power cut ...
    assert compare(docs[6], docs[0], cfg).same and compare(docs[6], docs[1], cfg).same
    assert all(compare(docs[6], docs[i], cfg).same for i in (3, 4, 5))
    results = [await ingest(sent(i, t, len(HOSPITAL))) for i, t in enumerate(HOSPITAL)]
    # ... whose own reports never match each other: two tickets.
    assert len({r.ticket_number for r in results[:3]}) == 1
    assert len({r.ticket_number for r in results[3:]}) == 1
    assert results[0].ticket_number != results[3].ticket_number
    async with sessions() as s:
        assert not (await s.execute(
            select(TicketEvent).where(TicketEvent.type == "merged"))).first()
