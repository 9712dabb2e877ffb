"""Mail in Dovecot -> tickets, acknowledgements at the SMTP sink, threads, bounces."""

from __future__ import annotations

import asyncio

import pytest

from aggregator.delivery.queue import Outgoing, queue
from aggregator.messages import Reply, StatusChange
from storage.models import Report, Ticket
from tests.connectors.email.harness import Harness
from tests.connectors.email.mails import AGENCY, bounce_of, complaint


async def test_complaint_becomes_ticket_and_is_acknowledged(harness: Harness):
    harness.deliver(complaint(1, sender="siti@mail.example.id", name="Siti Aminah",
                              subject="Lampu jalan mati di Jl. Melati"))
    async with harness.running(harness.connector()):
        await harness.wait_reports(1)
        (ack,) = await harness.sink.wait(1)
        await harness.outbox_settled()
        await harness.wait_seen(1)
    ticket = await harness.ticket_of("c1.siti@mail.example.id")
    assert ticket.number.startswith("ADU-")
    # What the citizen sees: the number in the subject, threaded under their mail.
    assert f"[{ticket.number}]" in ack["Subject"]
    assert "Lampu jalan mati di Jl. Melati" in ack["Subject"]
    assert ack["To"] == "siti@mail.example.id"
    assert ack["In-Reply-To"] == "<c1.siti@mail.example.id>"
    assert ack["Auto-Submitted"] == "auto-replied"
    body = ack.get_content()
    assert "Yth. Siti Aminah" in body and ticket.number in body
    # The mail is marked read once committed.
    assert b"\\Seen" in harness.dovecot.flags(harness.user)[1]
    report = await harness.report("c1.siti@mail.example.id")
    assert report.title == "Lampu jalan mati di Jl. Melati"
    assert report.channel == "email" and report.source == "mail"


async def test_reply_to_ack_and_subject_tag_thread_into_the_ticket(harness: Harness):
    harness.deliver(complaint(1, sender="budi@mail.example.id", subject="Sampah menumpuk"))
    async with harness.running(harness.connector()):
        (ack,) = await harness.sink.wait(1)
        ack_id = ack["Message-ID"].strip("<>")
        # The citizen answers our acknowledgement (their client sets the threading).
        harness.deliver(complaint(2, sender="budi@mail.example.id", subject="Re: Sampah menumpuk",
                                  text="Sudah 3 hari belum diangkut.\n\n> kutipan lama",
                                  in_reply_to=ack_id,
                                  references=["c1.budi@mail.example.id", ack_id]))
        # Someone else names the ticket number in the subject only.
        number = ack["X-Aduan-Ticket"]
        harness.deliver(complaint(3, sender="ani@mail.example.id",
                                  subject=f"Tambahan info [{number}]", text="Saya juga melihatnya"))
        await harness.wait_reports(3)
        await harness.outbox_settled()
        await asyncio.sleep(0.3)
    assert await harness.count(Ticket) == 1
    reply = await harness.report("c2.budi@mail.example.id")
    assert reply.match_reason == "reply"
    assert reply.text == "Sudah 3 hari belum diangkut."  # quote trimmed ...
    assert "> kutipan lama" in (reply.body or "")          # ... but kept in the body
    assert (await harness.report("c3.ani@mail.example.id")).match_reason == "ticket_ref"
    # Continuing a conversation is not acknowledged again: one ack only.
    assert len(harness.sink.messages) == 1


async def test_staff_reply_threads_and_the_answer_comes_back(harness: Harness):
    harness.deliver(complaint(1, sender="dewi@mail.example.id", subject="Air PDAM mati"))
    conn = harness.connector()
    async with harness.running(conn):
        await harness.sink.wait(1)
        ticket = await harness.ticket_of("c1.dewi@mail.example.id")
        async with harness.sessions() as s, s.begin():
            reporter_id = (await s.get(Report, (await harness.report(
                "c1.dewi@mail.example.id")).id)).reporter_id
            await queue(s, [Outgoing(
                "mail", Reply("Petugas sudah menuju lokasi.", "Rina",
                              ("c1.dewi@mail.example.id",)),
                ticket_id=ticket.id, reporter_id=reporter_id)])
        harness.outbox.wake()
        msgs = await harness.sink.wait(2)
        staff = msgs[1]
        assert staff["Subject"] == f"Re: [{ticket.number}] Air PDAM mati"
        assert staff["In-Reply-To"] == "<c1.dewi@mail.example.id>"
        assert "<c1.dewi@mail.example.id>" in staff["References"]
        assert "Auto-Submitted" not in staff
        assert "Petugas sudah menuju lokasi." in staff.get_content()
        assert "Rina" in staff.get_content()
        # The citizen answers the staff reply: it lands on the same ticket.
        staff_id = staff["Message-ID"].strip("<>")
        harness.deliver(complaint(2, sender="dewi@mail.example.id", subject="Re: x",
                                  text="Terima kasih, airnya sudah mengalir.",
                                  in_reply_to=staff_id))
        await harness.wait_reports(2)
        await harness.until(lambda: _count_rows(harness, 3), what="3 outbox rows")
        rows = await harness.outbox_settled()
    # ack sent, staff reply sent, the ack owed for the citizen's answer skipped.
    assert [(r.kind, r.state) for r in rows] == [("ack", "sent"), ("reply", "sent"),
                                                 ("ack", "skipped")]
    assert rows[1].external_id == staff_id  # the id the sender recorded is ours
    assert (await harness.ticket_of("c2.dewi@mail.example.id")).id == ticket.id


async def test_bounce_is_recorded_on_the_ticket_not_opened_as_complaint(harness: Harness):
    harness.deliver(complaint(1, sender="salah@mail.example.id"))
    async with harness.running(harness.connector()):
        (ack,) = await harness.sink.wait(1)
        await harness.outbox_settled()
        harness.deliver(bounce_of(ack["Message-ID"].strip("<>"), "salah@mail.example.id"))
        ticket = await harness.ticket_of("c1.salah@mail.example.id")

        async def bounced() -> bool:
            return any(e.type == "delivery_failed" for e in await harness.events(ticket.id))
        await harness.until(bounced, what="delivery_failed event")
        await harness.wait_seen(2)
    assert await harness.count(Report) == 1 and await harness.count(Ticket) == 1
    (event,) = [e for e in await harness.events(ticket.id) if e.type == "delivery_failed"]
    assert event.data["recipients"] == ["salah@mail.example.id"]
    assert event.data["status"] == "5.1.1" and event.data["kind"] == "ack"
    assert len(harness.sink.messages) == 1  # nobody answers the mailer-daemon
    assert all(b"\\Seen" in f for f in harness.dovecot.flags(harness.user).values())


async def test_machines_and_lists_are_ticketed_but_never_answered(harness: Harness):
    harness.deliver(
        complaint(1, headers={"Auto-Submitted": "auto-replied"}, text="Saya sedang cuti"),
        complaint(2, headers={"Precedence": "bulk"}, text="Buletin mingguan"),
        complaint(3, headers={"List-Id": "<warga.rt05.example.id>"}, text="Diskusi milis"),
        complaint(4, sender="noreply@bank.example.id", text="Notifikasi transaksi"),
        complaint(5, sender=AGENCY, text="Salinan dari kami sendiri"),
        complaint(6, sender="postmaster@mail.example.id", text="Laporan harian"),
        complaint(7, text="Keluhan sungguhan dari warga: jembatan retak"),
    )
    async with harness.running(harness.connector()):
        await harness.wait_reports(7)
        await harness.outbox_settled()
        await asyncio.sleep(0.3)
    assert await harness.count(Ticket) == 7
    assert [m["To"] for m in harness.sink.messages] == ["warga7@mail.example.id"]
    report = await harness.report("c1.warga1@mail.example.id")
    assert report.meta["no_ack"] == "auto-submitted"


async def _count_rows(harness: Harness, n: int) -> bool:
    return len(await harness.outbox_rows()) >= n


async def test_resolved_is_announced_other_states_are_not(harness: Harness):
    harness.deliver(complaint(1, sender="eko@mail.example.id", subject="Got mampet"))
    async with harness.running(harness.connector()):
        await harness.sink.wait(1)
        ticket = await harness.ticket_of("c1.eko@mail.example.id")
        report = await harness.report("c1.eko@mail.example.id")
        async with harness.sessions() as s, s.begin():
            await queue(s, [
                Outgoing("mail", StatusChange("new", to, (report.external_id,)),
                         ticket_id=ticket.id, reporter_id=report.reporter_id)
                for to in ("in_progress", "resolved")])
        harness.outbox.wake()
        await harness.until(lambda: _count_rows(harness, 3), what="status rows")
        rows = await harness.outbox_settled()
    assert [(r.kind, r.state) for r in rows] == [
        ("ack", "sent"), ("status", "skipped"), ("status", "sent")]
    resolved = harness.sink.messages[1]
    assert resolved["Subject"] == (f"[{ticket.number}] Pengaduan Anda telah selesai "
                                   "ditangani: Got mampet")
    assert resolved["In-Reply-To"] == "<c1.eko@mail.example.id>"
    assert "selesai ditangani" in resolved.get_content()


async def test_ack_rate_limit_per_sender(harness: Harness):
    """A sender that writes again and again (an auto-responder without headers, a
    loop) gets at most max_acks_per_hour acknowledgements; every mail is ticketed."""
    harness.deliver(*(complaint(i, sender="loop@mail.example.id", text=f"Pesan {i} berbeda")
                      for i in range(4)))
    async with harness.running(harness.connector(max_acks_per_hour=2)) as conn:
        await harness.wait_reports(4)
        await harness.until(lambda: _count_rows(harness, 4), what="ack rows")
        await harness.outbox_settled()
    assert len(harness.sink.messages) == 2
    assert conn.health()["send_skipped"] == {"ack rate limit": 2}


async def test_ack_counts_forget_senders_idle_for_an_hour(harness: Harness, monkeypatch):
    """Most senders write once. Under a steady stream of new senders the per-sender
    counts stay about an hour's worth (they were kept for every sender ever), and a
    sender writing again and again still gets at most max_acks_per_hour."""
    import connectors.email.connector as module

    clock = [0.0]
    monkeypatch.setattr(module, "time", type("Clock", (), {"monotonic": lambda: clock[0]}))
    conn = harness.connector(max_acks_per_hour=2)
    loop_acked: list[float] = []
    for second in range(4 * 3600):  # a new sender every second for four hours
        clock[0] = float(second)
        assert await conn._ack_allowed(f"warga{second}@mail.example.id")
        if second % 600 == 0 and await conn._ack_allowed("loop@mail.example.id"):
            loop_acked.append(clock[0])
        assert len(conn._acks) <= 2 * 3600 + 2
    assert len(loop_acked) == 8  # two an hour
    assert all(b - a > 3600 for a, b in zip(loop_acked, loop_acked[2:], strict=False))


async def test_unreachable_server_is_retried_not_fatal(harness: Harness):
    from tests.connectors.email.dovecot import free_port

    conn = harness.connector(imap={"port": free_port()})
    async with harness.running(conn):
        async def failed_twice() -> bool:
            return conn.health()["folders"]["INBOX"]["errors"] >= 2
        await harness.until(failed_twice, within=10, what="two failed connects")
        health = conn.health()["folders"]["INBOX"]
    assert health["connected"] is False
    assert "ConnectionRefused" in health["last_error"]


async def test_the_same_connector_runs_again_after_stopping(harness: Harness):
    """The supervisor restarts a crashed connector by calling run() again."""
    conn = harness.connector()
    harness.deliver(complaint(1))
    async with harness.running(conn):
        await harness.wait_reports(1)
    harness.deliver(complaint(2))
    async with harness.running(conn):
        await harness.wait_reports(2)
        await harness.wait_seen(2)
    assert await harness.count(Ticket) == 2


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls(security, harness: Harness, dovecot_tls):
    """Real TLS against a server certificate checked through ca_file."""
    harness.dovecot, harness.user = dovecot_tls, dovecot_tls.new_user()
    harness.deliver(complaint(1))
    port = dovecot_tls.tls_port if security == "tls" else dovecot_tls.port
    conn = harness.connector(imap={"security": security, "port": port,
                                   "ca_file": str(dovecot_tls.cert)})
    async with harness.running(conn):
        await harness.wait_reports(1)
        await harness.sink.wait(1)
    # Without the CA the certificate is refused: no mail is read.
    harness.deliver(complaint(2))
    conn = harness.connector(imap={"security": security, "port": port})
    async with harness.running(conn):
        async def refused() -> bool:
            return conn.health()["folders"]["INBOX"]["errors"] >= 1
        await harness.until(refused, what="certificate refusal")
        assert "CERTIFICATE_VERIFY_FAILED" in conn.health()["folders"]["INBOX"]["last_error"]
    assert await harness.count(Report) == 1
