"""The email connector inside `aggregator run`: crash safety and the end-to-end bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from storage.models import Report, Ticket
from tests.connectors.email.daemon import Daemon, write_config
from tests.connectors.email.harness import Harness
from tests.connectors.email.mails import complaint, distinct_text


async def test_kill_mid_batch_restart_every_mail_exactly_once(harness: Harness, db_url: str,
                                                              tmp_path: Path):
    total = 80
    harness.deliver(*(complaint(i, text=distinct_text(i) + "\n\n" + "> kutipan surat lama\n" * 300)
                      for i in range(total)))
    config = write_config(tmp_path / "config.yaml", db_url, harness.dovecot, harness.user,
                          harness.sink, imap={"batch_size": 4})
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        # Kill -9 once some, not all, mail is committed.
        await harness.until(lambda: _reports_between(harness, 1, total - 1), timeout=30,
                            what="first commits")
        daemon.kill()
        first = await harness.count(Report)
        assert 0 < first < total, daemon.output()
        orphans = {r.id for r in await harness.outbox_rows() if r.claimed_until is not None}
        daemon = Daemon(config, tmp_path / "daemon.log").start()
        await harness.wait_reports(total, timeout=60)
        await harness.wait_seen(total, timeout=30)
        # Let the sender finish (rows the dead process claimed wait out their lease).
        await harness.until(lambda: _sent_except(harness, orphans), timeout=30,
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
    return low <= await harness.count(Report) <= high


async def test_daemon_sigterm_stops_cleanly(harness: Harness, db_url: str, tmp_path: Path):
    harness.deliver(complaint(1))
    config = write_config(tmp_path / "config.yaml", db_url, harness.dovecot, harness.user,
                          harness.sink)
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        await harness.wait_reports(1, timeout=30)
        await harness.sink.wait(1)
        await asyncio.sleep(0.3)  # now idling in IMAP IDLE
        assert await daemon.stop() == 0, daemon.output()
    finally:
        if daemon.alive():
            daemon.kill()
