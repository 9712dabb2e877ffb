"""Follow-up messages: one recent open ticket joins it; several ask which one."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage.models import ConnectorRecord, Report, Ticket
from tests.connectors.telegram.harness import count, tg_settings, ticket_number_in
from tests.core.helpers import running

CITRA = 3001


async def ticket_of(svc, external_id: str) -> str:
    async with svc.sessions() as s:
        return (await s.execute(
            select(Ticket.number).join(Report, Report.ticket_id == Ticket.id)
            .where(Report.external_id == external_id))).scalar_one()


async def test_follow_up_joins_the_one_open_ticket_and_new_opens_another(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.message(CITRA, "Jembatan di Desa Sukamaju retak besar")
        first = ticket_number_in((await fake.wait_sent(CITRA, "Nomor tiket"))[0]["text"])
        extra = fake.message(CITRA, "Tambahan: retaknya di sisi utara, dekat tiang listrik")
        (added,) = await fake.wait_sent(CITRA, "ditambahkan ke tiket")
        assert first in added["text"] and "/baru" in added["text"]
        assert await ticket_of(svc, f"{CITRA}:{extra['message_id']}") == first

        fake.message(CITRA, "/baru Lampu lalu lintas di perempatan Pasar Baru mati")
        acks = await fake.wait_sent(CITRA, "Nomor tiket", count=2)
        second = ticket_number_in(acks[-1]["text"])
        assert second != first
        assert await count(svc, Ticket) == 2


async def test_several_open_tickets_ask_which_one(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.message(CITRA, "Jembatan di Desa Sukamaju retak besar")
        first = ticket_number_in((await fake.wait_sent(CITRA, "Nomor tiket"))[0]["text"])
        fake.message(CITRA, "/baru Lampu lalu lintas di perempatan Pasar Baru mati")
        second = ticket_number_in((await fake.wait_sent(CITRA, "Nomor tiket", count=2))[-1]["text"])

        msg = fake.message(CITRA, "Sudah seminggu belum ada petugas yang datang")
        (question,) = await fake.wait_sent(CITRA, "yang mana")
        rows = question["reply_markup"]["inline_keyboard"]
        labels = [row[0]["text"] for row in rows]
        assert labels[0].startswith(second) and labels[1].startswith(first)  # most recent first
        assert labels[-1] == "Aduan baru"
        assert await count(svc, Report) == 2  # held, not yet a report

        fake.press(CITRA, question, rows[1][0]["callback_data"])  # the bridge
        (added,) = await fake.wait_sent(CITRA, "ditambahkan ke tiket")
        assert first in added["text"]
        assert await ticket_of(svc, f"{CITRA}:{msg['message_id']}") == first
        await fake.wait_for(lambda: fake.edits, what="keyboard removed")
        assert fake.edits[-1]["message_id"] == question["message_id"]
        assert await count(svc, ConnectorRecord, ConnectorRecord.connector == "tg") == 0

        # Pressing again (or an old keyboard) changes nothing.
        fake.press(CITRA, question, rows[0][0]["callback_data"])
        await fake.wait_for(lambda: len(fake.answers) >= 2, what="second answer")
        assert "tidak berlaku" in fake.answers[-1]["text"]
        assert await count(svc, Report) == 3

        # "New complaint" opens a third ticket.
        fake.message(CITRA, "Saluran air di gang 5 tersumbat sampah")
        question2 = (await fake.wait_sent(CITRA, "yang mana", count=2))[-1]
        fake.press(CITRA, question2, question2["reply_markup"]["inline_keyboard"][-1][0][
            "callback_data"])
        acks = await fake.wait_sent(CITRA, "Nomor tiket", count=3)
        assert ticket_number_in(acks[-1]["text"]) not in (first, second)
        assert await count(svc, Ticket) == 3


async def test_reply_to_a_bot_message_threads_without_asking(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.message(CITRA, "Jembatan di Desa Sukamaju retak besar")
        (ack1,) = await fake.wait_sent(CITRA, "Nomor tiket")
        fake.message(CITRA, "/baru Lampu lalu lintas di perempatan Pasar Baru mati")
        await fake.wait_sent(CITRA, "Nomor tiket", count=2)
        reply = fake.message(CITRA, "Foto menyusul besok", reply_to=ack1["message_id"])
        await fake.wait_sent(CITRA, "ditambahkan ke tiket")
        assert await ticket_of(svc, f"{CITRA}:{reply['message_id']}") == ticket_number_in(
            ack1["text"])
        assert not [m for m in fake.sent if "yang mana" in m["text"]]


async def test_unanswered_question_becomes_a_new_ticket(db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake, choice_timeout_minutes=0.0005)
    async with running(settings) as svc:
        fake.message(CITRA, "Jembatan di Desa Sukamaju retak besar")
        await fake.wait_sent(CITRA, "Nomor tiket")
        fake.message(CITRA, "/baru Lampu lalu lintas di perempatan Pasar Baru mati")
        await fake.wait_sent(CITRA, "Nomor tiket", count=2)
        msg = fake.message(CITRA, "Pohon tumbang menutup jalan desa")
        await fake.wait_sent(CITRA, "yang mana")
        await asyncio.sleep(0.05)  # past the (tiny) choice timeout
        assert await svc.connectors["tg"].conversation.intake.sweep() == 1
        acks = await fake.wait_sent(CITRA, "Nomor tiket", count=3)
        assert await ticket_of(svc, f"{CITRA}:{msg['message_id']}") == ticket_number_in(
            acks[-1]["text"])
        assert await count(svc, Ticket) == 3
