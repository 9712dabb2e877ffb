"""Hostile and odd mail through a real Dovecot: nothing crashes, nothing is lost."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from connectors.email.parse import parse_mail
from storage.models import Report, Ticket, TicketEvent
from tests.connectors.email.harness import Harness
from tests.connectors.email.mails import complaint, hostile, shared_corpus


async def test_hostile_corpus_is_ingested_without_losing_any(harness: Harness):
    corpus = [(p.name, p.read_bytes()) for p in shared_corpus()] + hostile()
    # Three ordinary complaints around them must come through unharmed.
    ordinary = [complaint(900 + i) for i in range(3)]
    raws = [ordinary[0], *[raw for _, raw in corpus], ordinary[1], ordinary[2]]
    assert len(corpus) >= 30
    harness.deliver(*raws)
    stored = harness.dovecot.raw_messages(harness.user)  # the server turns NUL into 0x80
    parsed = [parse_mail(raw) for raw in stored]
    expected = {m.external_id for m in parsed if m.category == "complaint"}
    conn = harness.connector(max_message_bytes=2_500_000,
                             attachments={"max_count": 3, "max_bytes": 100_000},
                             imap={"batch_size": 25})
    async with harness.running(conn):
        await harness.wait_seen(len(raws), within=60)
        await harness.outbox_settled()
    reports = await harness.reports()
    # Every complaint-shaped mail is a report, exactly once (repeats in the corpus
    # share a Message-ID and are one report); bounces and notices are not complaints.
    assert {r.external_id for r in reports} == expected
    assert len(reports) == len(expected)
    health = conn.health()
    assert health["quarantined"] == 0
    assert health["notices"] >= 3 and health["bounces_unmatched"] >= 10
    for i in range(3):
        r = await harness.report(f"c{900 + i}.warga{900 + i}@mail.example.id")
        assert r.text.startswith("Lampu jalan di gang")
    by_id = {r.external_id: r for r in reports}
    html = by_id["h1@mail.example.id"]
    assert html.text == "Trotoar rusak di Jl. Merdeka"  # no script, no style
    assert "alert" not in (html.body or html.text)
    assert "Sampah menumpuk di pasar" in by_id["cs1@mail.example.id"].text
    assert by_id["8b@mail.example.id"].title.startswith("Jalan à rusak")
    assert by_id["rfc2047@mail.example.id"].title == "Pelayanan KTP lambat — antre 5 jam"
    assert len(by_id["giant@mail.example.id"].title) <= 300
    assert by_id["empty@mail.example.id"].text == "Tanpa isi"
    # The mail bigger than max_message_bytes is a report that says so.
    big = by_id["huge@mail.example.id"]
    assert big.meta["oversized"] and big.text.startswith("Email ini terlalu besar (3000")
    # Attachments: stored with hash under the caps, path stripped from names.
    att = by_id["att@mail.example.id"]
    (photo,) = await harness.attachments(att.id)
    assert photo.filename == "jalan.jpg" and photo.data and len(photo.sha256) == 64
    assert "jalan.jpg" in att.text
    rows = await harness.attachments(by_id["many@mail.example.id"].id)
    assert [a.filename for a in rows] == [f"foto{n}.png" for n in range(6)]
    assert [a.data is not None for a in rows] == [True] * 3 + [False] * 3  # max_count
    assert all("lebih dari 3 lampiran" in a.note for a in rows[3:])
    (blob,) = await harness.attachments(by_id["bigatt@mail.example.id"].id)
    assert blob.data is None and blob.size == 500_000 and "batas" in blob.note


async def test_poison_report_is_quarantined_and_others_go_through(harness: Harness):
    """A report the database refuses (here: a Message-ID longer than the column on
    PostgreSQL, forced through a subclass hook) fails alone."""
    harness.deliver(*(complaint(i) for i in range(3)))
    conn = harness.connector(imap={"batch_size": 10, "idle": False})  # polling
    original = conn.folders[0].to_report

    def poisoned(mail):
        report = original(mail)
        if mail.external_id.startswith("c2."):
            report.meta["poison"] = {1, 2}  # not JSON: the commit fails
        return report

    conn.folders[0].to_report = poisoned
    async with harness.running(conn):
        await harness.wait_seen(3)
        harness.deliver(complaint(3), complaint(4))  # found by the next poll
        await harness.wait_seen(5)
        assert conn.health()["folders"]["INBOX"]["idle"] is False
    reports = {r.external_id: r for r in await harness.reports()}
    assert len(reports) == 5
    assert reports["c2.warga2@mail.example.id"].meta.get("quarantined") is True
    assert "tidak dapat disimpan" in reports["c2.warga2@mail.example.id"].text
    assert conn.health()["quarantined"] == 1


async def test_processed_folder_move_and_uidvalidity_change(harness: Harness):
    harness.deliver(complaint(1), complaint(2), folder="Aduan")
    conn = harness.connector(imap={"folders": ["Aduan"]}, processed_folder="Selesai")
    async with harness.running(conn):
        await harness.wait_reports(2)

        async def moved() -> bool:
            return len(await asyncio.to_thread(harness.dovecot.uids, harness.user,
                                               "Selesai")) == 2
        await harness.until(moved, what="mail moved")
    assert await asyncio.to_thread(harness.dovecot.uids, harness.user, "Aduan") == []
    # The folder is rebuilt (new UIDVALIDITY) with old and new mail in it: the old
    # ones are recognised by Message-ID, only the new one is added.
    with harness.dovecot.client(harness.user) as c:
        c.delete_folder("Aduan")
    harness.deliver(complaint(1), complaint(2), complaint(3), folder="Aduan")
    async with harness.running(harness.connector(imap={"folders": ["Aduan"]},
                                                 processed_folder="Selesai")):
        await harness.wait_reports(3)

        async def moved_again() -> bool:
            return len(await asyncio.to_thread(harness.dovecot.uids, harness.user,
                                               "Selesai")) == 5
        await harness.until(moved_again, what="mail moved")
    assert await harness.count(Report) == 3 and await harness.count(Ticket) == 3


async def test_idle_push_and_two_folders(harness: Harness):
    conn = harness.connector(imap={"folders": ["INBOX", "Lain"], "poll_interval": 30})
    harness.deliver(complaint(1, text="Folder lain"), folder="Lain")
    async with harness.running(conn):
        await harness.wait_reports(1)
        await asyncio.sleep(0.5)  # both folders are now idling
        assert all(f["idle"] for f in conn.health()["folders"].values())
        harness.deliver(complaint(2, text="Masuk lewat IDLE"))
        await harness.wait_reports(2, within=10)  # far sooner than the 30 s poll
        harness.deliver(complaint(3, text="Masuk lagi"), folder="Lain")
        await harness.wait_reports(3, within=10)
    async with harness.sessions() as s:
        cursor = (await s.execute(select(TicketEvent))).first()
    assert cursor is not None
    state = await conn.ctx.load_cursor()
    assert state["INBOX"]["last_uid"] == 1 and state["Lain"]["last_uid"] == 2
