"""The email connector inside `aggregator run`: crash safety and the end-to-end bar."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.models import Report, Ticket
from tests.connectors.email.daemon import Daemon, write_config
from tests.connectors.email.harness import Harness
from tests.connectors.email.mails import bounce_of, complaint, distinct_text, hostile


async def test_kill_mid_batch_restart_every_mail_exactly_once(harness: Harness, db_url: str,
                                                              tmp_path: Path):
    total = 40
    harness.deliver(*(complaint(i, text=distinct_text(i) + "\n\n" + "> kutipan surat lama\n" * 300)
                      for i in range(total)))
    config = write_config(tmp_path / "config.yaml", db_url, harness.dovecot, harness.user,
                          harness.sink, imap={"batch_size": 2})
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        # Kill -9 once some, not all, mail is committed.
        try:
            await harness.until(lambda: _reports_between(harness, 1, total - 1), within=60,
                                what="first commits", every=0.005)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {await harness.count(Report)} reports; daemon: "
                                 f"{daemon.output()}") from None
        daemon.kill()
        first = await harness.count(Report)
        assert 0 < first < total, daemon.output()
        orphans = {r.id for r in await harness.outbox_rows() if r.claimed_until is not None}
        daemon = Daemon(config, tmp_path / "daemon.log").start()
        await harness.wait_reports(total, within=60)
        await harness.wait_seen(total, within=30)
        # Let the sender finish (rows the dead process claimed wait out their lease).
        await harness.until(lambda: _sent_except(harness, orphans), within=30,
                            what="acknowledgements sent")
        assert await daemon.stop() == 0
    finally:
        if daemon.alive():
            daemon.kill()
    async with harness.sessions() as s:
        ids = (await s.execute(select(Report.external_id))).scalars().all()
        tickets = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
    assert len(ids) == total and len(set(ids)) == total
    assert tickets == total
    # Exactly one acknowledgement is owed per ticket. (Rows the killed process had
    # claimed wait out their lease before another sender takes them.)
    acks = [r for r in await harness.outbox_rows() if r.kind == "ack"]
    assert len(acks) == total and len({r.ticket_id for r in acks}) == total
    # A repeat after the crash (sent, but not yet recorded as sent) carries the same
    # Message-ID, so mail clients show it once.
    by_thread: dict[str, set[str]] = {}
    for m in harness.sink.messages:
        by_thread.setdefault(m["In-Reply-To"], set()).add(m["Message-ID"])
    assert all(len(v) == 1 for v in by_thread.values())


async def _sent_except(harness: Harness, orphans: set[int]) -> bool:
    rows = await harness.outbox_rows()
    return all(r.state == "sent" for r in rows if r.id not in orphans)


async def _reports_between(harness: Harness, low: int, high: int) -> bool:
    return low <= await harness.peek_reports() <= high


def bar_mailbox() -> tuple[list[bytes], dict[str, int]]:
    """40 mails: complaints, threads, a repeat, hostile shapes, machines, a bounce."""
    mails: list[bytes] = []
    for i in range(20):  # 20 citizens, 20 new tickets
        mails.append(complaint(i, text=distinct_text(i)))
    for i in range(5):  # five of them write again in the same thread
        mails.append(complaint(100 + i, sender=f"warga{i}@mail.example.id",
                               subject=f"Re: Keluhan nomor {i}", text=distinct_text(100 + i),
                               in_reply_to=f"c{i}.warga{i}@mail.example.id"))
    for i in range(2):  # and answers to those answers (References chain)
        mails.append(complaint(200 + i, sender=f"warga{i}@mail.example.id",
                               text=distinct_text(200 + i),
                               references=[f"c{i}.warga{i}@mail.example.id",
                                           f"c{100 + i}.warga{i}@mail.example.id"]))
    for i in range(2):  # a citizen with a second, unrelated complaint
        mails.append(complaint(300 + i, sender="warga7@mail.example.id",
                               text=distinct_text(300 + i)))
    mails.append(mails[3])  # the same mail delivered twice
    wanted = {"html-only", "unknown-charset", "8bit-headers", "rfc2047-subject",
              "nested-multipart", "attachments-only"}
    mails += [raw for name, raw in hostile() if name in wanted]
    mails.append(complaint(400, headers={"Auto-Submitted": "auto-replied"},
                           text=distinct_text(400)))
    mails.append(complaint(401, headers={"List-Id": "<rt05.example.id>"},
                           text=distinct_text(401)))
    mails.append(bounce_of("unknown.1@pemkot.example.id", "hilang@mail.example.id"))
    mails.append(shared_or_mdn())
    assert len(mails) == 40
    return mails, {"tickets": 30, "reports": 37, "acks": 28}


def shared_or_mdn() -> bytes:
    """A read receipt (MDN): machine mail that is neither complaint nor bounce."""
    return (b"From: Warga 1 <warga1@mail.example.id>\r\nSubject: Read: Keluhan\r\n"
            b"Message-ID: <mdn1@mail.example.id>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=disposition-notification; "
            b'boundary="m"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nDibaca.\r\n'
            b"--m\r\nContent-Type: message/disposition-notification\r\n\r\n"
            b"Disposition: manual-action/MDN-sent-manually; displayed\r\n--m--\r\n")


async def test_bar_forty_mails_through_aggregator_run(harness: Harness, db_url: str,
                                                      tmp_path: Path):
    mails, expected = bar_mailbox()
    harness.deliver(*mails)
    config = write_config(tmp_path / "config.yaml", db_url, harness.dovecot, harness.user,
                          harness.sink)
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        await harness.wait_seen(40, within=60)
        await harness.sink.wait(expected["acks"], within=30)
        await harness.outbox_settled()
        # SIGTERM while idling in IMAP IDLE: a clean, prompt exit.
        assert await daemon.stop() == 0, daemon.output()
    finally:
        if daemon.alive():
            daemon.kill()
    assert await harness.count(Ticket) == expected["tickets"]
    assert await harness.count(Report) == expected["reports"]
    for i in range(5):  # every thread is one ticket
        first = await harness.ticket_of(f"c{i}.warga{i}@mail.example.id")
        follow = [f"c{100 + i}.warga{i}@mail.example.id"]
        if i < 2:
            follow.append(f"c{200 + i}.warga{i}@mail.example.id")
        for ext in follow:
            assert (await harness.ticket_of(ext)).id == first.id
        assert first.report_count == len(follow) + 1
    # One acknowledgement per new ticket whose sender may be answered, each carrying
    # its ticket number, and nothing for threads, machines, lists or bounces.
    acks = harness.sink.messages
    assert len(acks) == expected["acks"]
    numbers = [m["X-Aduan-Ticket"] for m in acks]
    assert len(set(numbers)) == len(numbers)
    assert all(f"[{m['X-Aduan-Ticket']}]" in m["Subject"] for m in acks)
    assert not any("warga400" in m["To"] or "warga401" in m["To"] for m in acks)
