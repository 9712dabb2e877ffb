"""A flood spread over many tickets (a service outage everyone reports in their own
words) is seen on its channel: reports through the real ingest, the real virality and
escalation job rounds. Two days of ordinary e-mail teach the channel its baseline; a
backlog from yesterday arriving at once is not a flood; sixty new reports within half an
hour are. Staff get one notice naming the channel, the count and the expectation, the
change is logged once, and /metrics shows the channel's verdict."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from aggregator.config import parse
from aggregator.domain import Author, Report
from aggregator.escalation.feature import EscalationFeature
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from aggregator.monitoring.metrics import Metrics
from aggregator.runtime.features import FeatureContext
from aggregator.virality import channels
from aggregator.virality.channels import verdicts
from aggregator.virality.feature import ViralityFeature
from storage.db import create_engine, session_factory
from storage.models import ConnectorRecord, Outbox, Virality
from storage.types import utcnow

PLACES = ["Tebet", "Menteng", "Cempaka Putih", "Kemayoran", "Pasar Minggu", "Cilandak",
          "Kebayoran", "Tanah Abang", "Gambir", "Senen", "Koja", "Cakung"]
WORDS = ["air PDAM mati", "tidak ada air", "keran kering", "air tidak mengalir",
         "pasokan air terhenti", "air bersih putus"]


def email(n: int, sent_at: datetime, text: str) -> Report:
    return Report(source="surel", channel="email", external_id=f"<m{n}@warga.example>",
                  text=text, sent_at=sent_at, title=text[:60],
                  author=Author(handle=f"warga{n}@example.id", name=f"Warga {n}"))


def ordinary(n: int, sent_at: datetime) -> Report:
    return email(n, sent_at, f"Mohon perbaikan lampu jalan nomor {n} di gang {n % 37} "
                             f"kelurahan {PLACES[n % len(PLACES)]}, sudah mati {n % 5 + 1} hari")


def outage(n: int, sent_at: datetime) -> Report:
    return email(n, sent_at, f"Sejak pagi {WORDS[n % len(WORDS)]} di rumah saya, "
                             f"{PLACES[n % len(PLACES)]} blok {n}, tolong dicek")


class Rounds:
    """The real virality and escalation job rounds over one database, with ingest."""

    def __init__(self, db_url: str, tmp_path) -> None:
        settings = parse({
            "database": {"url": db_url}, "dedup": {"enabled": False},
            "escalation": {
                "enabled": True,
                "targets": {"piket": {"url": "https://ops.example.id/hook",
                                      "secret": "escalation-signing-key-0123456789"}},
                "levels": [{"name": "piket", "when": [{"virality_level": 1}],
                            "notify": ["piket"]}],
            },
        }, base_dir=tmp_path, env={})
        self.engine = create_engine(db_url)
        self.sessions = session_factory(self.engine)
        ctx = FeatureContext(settings, self.sessions, self.sessions, lambda: None)
        (self.watch,) = ViralityFeature(ctx).jobs()
        (self.escalate,) = EscalationFeature(ctx).jobs()
        self.ingest = Ingestor(self.sessions, Pipeline(settings))

    async def round(self, channel: str = "email") -> dict:
        await self.watch.round()
        await self.escalate.round()
        async with self.sessions() as s:
            return (await verdicts(s))[channel]

    async def notices(self) -> list[Outbox]:
        async with self.sessions() as s:
            return list((await s.execute(select(Outbox).where(
                Outbox.kind == "notify").order_by(Outbox.id))).scalars())

    async def close(self) -> None:
        await self.ingest.close()
        await self.engine.dispose()


async def test_a_flood_across_tickets_alarms_its_channel_once(db_url, tmp_path, caplog):
    svc = Rounds(db_url, tmp_path)
    ing, round_, notices = svc.ingest, svc.round, svc.notices
    try:
        now = utcnow()
        await ing.submit([ordinary(i, now - timedelta(hours=48) + i * timedelta(minutes=20))
                          for i in range(141)])
        quiet = await round_()
        assert quiet["level"] == 0 and quiet["last_hour"] <= 4
        assert 1.0 <= quiet["expected_last_hour"] <= 5.0  # about three an hour, learnt

        # Yesterday's mail, held up somewhere and delivered now: history, not a flood.
        yesterday = now - timedelta(hours=30)
        await ing.submit([ordinary(1000 + i, yesterday + i * timedelta(minutes=6))
                          for i in range(60)])
        assert (await round_())["level"] == 0 and await notices() == []

        caplog.set_level(logging.INFO, logger="aggregator.virality")
        now = utcnow()
        results = await ing.submit([outage(2000 + i, now - timedelta(minutes=30 - i // 2))
                                    for i in range(60)])
        assert len({r.ticket_id for r in results}) == 60  # one ticket each
        flood = await round_()
        assert flood["level"] >= 1 and flood["last_hour"] >= 60
        assert flood["expected_last_hour"] <= 5.0
        async with svc.sessions() as s:
            ticket_levels = set((await s.execute(select(Virality.level).where(
                Virality.ticket_id.in_([r.ticket_id for r in results])))).scalars())
        assert ticket_levels == {0}  # no single ticket looks viral

        (notice,) = await notices()
        assert notice.source == "escalation" and notice.ticket_id is None
        text = notice.payload["text"]
        assert "Kanal email menerima 60 laporan dalam satu jam terakhir" in text
        assert "masuk ke 60 tiket" in text
        assert f"biasanya {flood['expected_last_hour']:.1f}" in text

        again = await round_()  # the same flood: no second notice, no second log line
        assert again["level"] == flood["level"] and len(await notices()) == 1
        changes = [r.getMessage() for r in caplog.records
                   if r.getMessage().startswith("channel email: level")]
        assert changes == [f"channel email: level 0 -> {flood['level']} (60 reports in "
                           f"the last hour, expected {flood['expected_last_hour']:.1f})"]

        metrics = Metrics()
        async with svc.sessions() as s:
            await metrics.refresh(s, {})
        scrape = metrics.render().decode()
        assert f'aggregator_channel_virality_level{{channel="email"}} {flood["level"]}.0' \
            in scrape
        assert 'aggregator_channel_reports_last_hour{channel="email"} 60.0' in scrape
    finally:
        await svc.close()


async def test_a_flood_into_one_ticket_is_told_by_that_ticket_not_the_channel(
        db_url, tmp_path):
    svc = Rounds(db_url, tmp_path)
    try:
        now = utcnow()
        first = Report(source="bot", channel="telegram", external_id="m-0",
                       text="Jembatan penyeberangan di Stasiun Manggarai runtuh sebagian",
                       sent_at=now - timedelta(minutes=20),
                       author=Author(handle="500", name="Warga 0"))
        (opened,) = await svc.ingest.submit([first])
        await svc.ingest.submit([Report(
            source="bot", channel="telegram", external_id=f"m-{i}",
            text=f"Saya juga lihat, jembatan Manggarai runtuh ({i})",
            ticket_ref=opened.ticket_number, sent_at=now - timedelta(minutes=20 - i / 2),
            author=Author(handle=f"{500 + i}", name=f"Warga {i}")) for i in range(1, 36)])
        channel = await svc.round("telegram")
        assert channel["level"] >= 1 and channel["last_hour"] == 36
        async with svc.sessions() as s:
            ticket = await s.get(Virality, opened.ticket_id)
        assert ticket.level >= 1
        # staff hear of it once, from the ticket's escalation, which names the ticket
        (notice,) = await svc.notices()
        assert notice.ticket_id == opened.ticket_id
        assert opened.ticket_number in notice.payload["subject"]
    finally:
        await svc.close()


async def test_a_long_history_is_learnt_batch_by_batch_before_any_verdict(
        db_url, tmp_path, monkeypatch):
    svc = Rounds(db_url, tmp_path)
    try:
        now = utcnow()
        await svc.ingest.submit([ordinary(i, now - timedelta(hours=48) +
                                          i * timedelta(minutes=20)) for i in range(141)])
        async with svc.sessions() as s, s.begin():
            await channels.run_round(s, now=now)
        async with svc.sessions() as s:
            whole = (await verdicts(s))["email"]
        async with svc.sessions() as s, s.begin():
            await s.execute(delete(ConnectorRecord))  # start the channel watch again
        monkeypatch.setattr(channels, "BATCH", 50)
        rounds = 0
        while True:
            rounds += 1
            async with svc.sessions() as s, s.begin():
                await channels.run_round(s, now=now)
            async with svc.sessions() as s:
                email_verdict = (await verdicts(s)).get("email", {})
            if "level" in email_verdict:
                break
            assert rounds < 5
        assert rounds == 3  # 50 + 50 + 41 reports
        assert email_verdict["level"] == 0
        assert email_verdict["expected_last_hour"] == whole["expected_last_hour"]
    finally:
        await svc.close()
