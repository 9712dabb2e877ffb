"""Floods, Telegram's 429, blocked and banned users, Telegram's message size."""

from __future__ import annotations

from sqlalchemy import select, update

from storage.models import Outbox, Report, Reporter
from tests.connectors.telegram.harness import count, eventually, tg_settings, ticket_number_in
from tests.connectors.telegram.parse_helpers import utf16
from tests.core.helpers import Api, running, token_for

DEWI, EKO, SPAM = 4001, 4002, 4666


async def test_flood_limit_answers_politely_once_and_tickets_nothing_more(
        db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake,
                           rate_limit={"messages": 3, "per_seconds": 600})
    async with running(settings) as svc:
        for i in range(8):
            fake.message(SPAM, f"/baru Aduan ke-{i} tentang jalan rusak nomor {i}")
        fake.message(EKO, "Trotoar di depan sekolah dipakai parkir motor")
        await fake.wait_confirmed()
        await fake.wait_sent(EKO, "Nomor tiket")
        await fake.wait_sent(SPAM, "ADU-", count=3)  # acknowledgements name the ticket
        assert await count(svc, Report, Report.external_id.like(f"{SPAM}:%")) == 3
        notices = [t for t in fake.texts_to(SPAM) if "terlalu banyak pesan" in t]
        assert len(notices) == 1 and "detik" in notices[0]
        assert len([t for t in fake.texts_to(SPAM) if "ADU-" in t]) == 3
        assert svc.connectors["tg"].health()["flood_refused"] == 5


async def test_429_on_sends_is_waited_out(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        # The acknowledgement (an outbox message) meets a 429 first.
        fake.fail("sendMessage", 429, retry_after=1)
        fake.message(DEWI, "Pelayanan KTP di kecamatan sangat lambat")
        (ack,) = await fake.wait_sent(DEWI, "Nomor tiket")
        attempts = [p for m, p in fake.calls if m == "sendMessage" and p["chat_id"] == DEWI]
        assert len(attempts) == 2
        async def ack_row() -> Outbox:
            async with svc.sessions() as s:
                return (await s.execute(select(Outbox).where(Outbox.kind == "ack"))).scalar_one()

        async def recorded() -> bool:
            return (await ack_row()).state != "pending"
        await eventually(recorded, what="ack recorded")  # the send returns before the commit
        row = await ack_row()
        assert row.state == "sent" and row.last_error is None  # waited, not failed
        assert row.external_id == f"{DEWI}:{ack['message_id']}"

        # An inline answer (/status) waits too, inside the connector.
        fake.fail("sendMessage", 429, retry_after=1)
        fake.message(DEWI, "/status")
        (listing,) = await fake.wait_sent(DEWI, "Aduan Anda")
        assert ticket_number_in(ack["text"]) in listing["text"]


async def test_blocked_user_is_not_retried_forever(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.fail("sendMessage", 403, times=1)
        fake.message(DEWI, "Pelayanan KTP di kecamatan sangat lambat")
        await fake.wait_confirmed()

        async def skipped() -> bool:
            async with svc.sessions() as s:
                return (await s.execute(select(Outbox.state))).scalar_one() == "skipped"
        await eventually(skipped, what="ack marked skipped")


async def test_banned_users_are_ignored(db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake, banned_users=[SPAM, "@Warga4002"])
    async with running(settings) as svc:
        fake.message(SPAM, "Beli followers murah!!!")
        fake.message(EKO, "/status")
        fake.message(DEWI, "Pelayanan KTP di kecamatan sangat lambat")
        await fake.wait_sent(DEWI, "Nomor tiket")
        await fake.wait_confirmed()
        assert fake.texts_to(SPAM) == [] and fake.texts_to(EKO) == []
        assert await count(svc, Report) == 1

        # Staff ban (reporters.banned) works the same way.
        async with svc.sessions() as s, s.begin():
            await s.execute(update(Reporter).where(Reporter.handle == str(DEWI))
                            .values(banned=True))
        fake.message(DEWI, "/baru Aduan lain lagi")
        await fake.wait_confirmed()
        assert await count(svc, Report) == 1
        assert len(fake.texts_to(DEWI)) == 1


async def test_long_staff_reply_is_split_at_telegram_limit(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.message(DEWI, "Pelayanan KTP di kecamatan sangat lambat")
        number = ticket_number_in((await fake.wait_sent(DEWI, "Nomor tiket"))[0]["text"])
        paragraph = "Kami mohon maaf atas keterlambatan pelayanan 🙏. " * 40
        text = "\n\n".join(f"{i}. {paragraph}" for i in range(5))
        api = Api(svc.web_url, await token_for(svc, "sari", "agent"))
        status, _ = await api.call("POST", f"/api/tickets/{number}/replies", json={"text": text})
        assert status == 202
        await fake.wait_sent(DEWI, "Sedang diproses")  # the status message comes after
        parts = [m["text"] for m in fake.sent if m["chat_id"] == DEWI][1:-1]
        assert len(parts) >= 3
        assert all(utf16(p) <= 4096 for p in parts)
        assert parts[0].startswith(f"Balasan petugas untuk tiket {number}")
        joined = " ".join(parts)
        assert all(f"{i}. Kami mohon maaf" in joined for i in range(5))
