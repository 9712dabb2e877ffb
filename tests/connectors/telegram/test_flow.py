"""The whole conversation through the running service, as the public and staff see it."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import SurveyAnswer, Ticket, TicketEvent
from tests.connectors.telegram.harness import tg_settings, ticket_number_in
from tests.core.helpers import Api, running, token_for

ANI, BUDI = 1001, 1002


async def test_complaint_status_reply_resolution_rating(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        api = Api(svc.web_url, await token_for(svc, "sari", "agent"))

        fake.message(ANI, "/start")
        (hello,) = await fake.wait_sent(ANI, "layanan pengaduan")
        assert "/status" in hello["text"]

        complaint = fake.message(ANI, "Lampu jalan di Jl. Merdeka mati sejak seminggu")
        (ack,) = await fake.wait_sent(ANI, "Nomor tiket")
        number = ticket_number_in(ack["text"])
        assert ack["reply_parameters"]["message_id"] == complaint["message_id"]

        fake.message(ANI, "/status")
        (listing,) = await fake.wait_sent(ANI, "Aduan Anda")
        assert number in listing["text"] and "Diterima" in listing["text"]

        status, _ = await api.call("POST", f"/api/tickets/{number}/replies",
                                   json={"text": "Petugas PJU akan memperbaiki besok pagi."})
        assert status == 202
        (reply,) = await fake.wait_sent(ANI, "Petugas PJU akan memperbaiki")
        assert number in reply["text"] and "sari" in reply["text"]
        assert reply["reply_parameters"]["message_id"] == complaint["message_id"]

        status, _ = await api.call("PATCH", f"/api/tickets/{number}", json={"state": "resolved"})
        assert status == 200
        (survey,) = await fake.wait_sent(ANI, "diselesaikan")
        buttons = [b for row in survey["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["text"] for b in buttons] == [
            "1 Tidak baik", "2 Kurang baik", "3 Baik", "4 Sangat baik"]
        # Under the buttons: the signed link to the full (nine-element) survey form.
        assert f"/survey/{number}." in survey["text"] and "Survei lengkap" in survey["text"]

        fake.press(ANI, survey, buttons[3]["callback_data"])
        (prompt,) = await fake.wait_sent(ANI, "komentar")
        assert prompt["reply_markup"]["force_reply"] is True
        assert fake.answers and "Sangat baik" in fake.answers[-1]["text"]
        await fake.wait_for(lambda: fake.edits, what="keyboard removed")
        assert fake.edits[-1]["message_id"] == survey["message_id"]

        fake.message(ANI, "Cepat sekali, terima kasih!", reply_to=prompt["message_id"])
        await fake.wait_sent(ANI, "komentar Anda sudah kami catat")

        async with svc.sessions() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
            events = (await s.execute(select(TicketEvent.type, TicketEvent.data).where(
                TicketEvent.ticket_id == ticket.id))).all()
        assert ticket.satisfaction == 4
        async with svc.sessions() as s:
            answers = (await s.execute(select(
                SurveyAnswer.element, SurveyAnswer.score, SurveyAnswer.channel))).all()
        assert [tuple(a) for a in answers] == [("overall", 4, "telegram")]
        assert ticket.satisfaction_comment == "Cepat sekali, terima kasih!"
        survey_events = [d for t, d in events if t == "survey"]
        assert survey_events == [{"score": 4, "label": "Sangat baik", "channel": "telegram",
                                  "source": "tg"}]
        assert [t for t, _ in events].count("survey_comment") == 1
        # The comment is not a new complaint.
        _, body = await api.call("GET", "/api/tickets?state=open")
        assert body["tickets"] == []


async def test_users_only_see_their_own_tickets(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.message(ANI, "Air PDAM keruh di perumahan Griya Asri")
        ani_number = ticket_number_in((await fake.wait_sent(ANI, "Nomor tiket"))[0]["text"])
        fake.message(BUDI, "Sampah menumpuk di pasar Kliwon")
        budi_number = ticket_number_in((await fake.wait_sent(BUDI, "Nomor tiket"))[0]["text"])

        fake.message(BUDI, f"/status {ani_number}")
        (answer,) = await fake.wait_sent(BUDI, ani_number)
        assert "tidak ditemukan" in answer["text"] and "PDAM" not in answer["text"]
        fake.message(BUDI, "/status")
        (listing,) = await fake.wait_sent(BUDI, "Aduan Anda")
        assert budi_number in listing["text"] and ani_number not in listing["text"]
        fake.message(ANI, f"/status {ani_number.lower()}")
        (mine,) = await fake.wait_sent(ANI, "Status:")
        assert ani_number in mine["text"] and "PDAM" in mine["text"]

        # Budi cannot rate Ani's ticket with a forged button, even once it is resolved.
        api = Api(svc.web_url, await token_for(svc, "sari", "agent"))
        await api.call("PATCH", f"/api/tickets/{ani_number}", json={"state": "resolved"})
        await fake.wait_sent(ANI, "diselesaikan")
        fake.press(BUDI, {"message_id": 1, "text": "x"}, f"ikm:{ani_number}:1")
        await fake.wait_for(lambda: fake.answers, what="callback answered")
        assert fake.answers[-1].get("show_alert") in (True, "true", "True")
        async with svc.sessions() as s:
            rating = (await s.execute(select(Ticket.satisfaction).where(
                Ticket.number == ani_number))).scalar_one()
        assert rating is None


async def test_english_is_remembered_and_ticket_numbers_in_text_are_checked(
        db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake, followup_window_minutes=0)
    async with running(settings) as svc:
        fake.message(BUDI, "Sampah menumpuk di pasar Kliwon")
        budi_number = ticket_number_in((await fake.wait_sent(BUDI, "Nomor tiket"))[0]["text"])

        fake.message(ANI, "/lang en")
        await fake.wait_sent(ANI, "Language set to English")
        fake.message(ANI, "The street lights on Jl. Sudirman are broken")
        (ack,) = await fake.wait_sent(ANI, "Ticket number")
        number = ticket_number_in(ack["text"])
        fake.message(ANI, "/status")
        await fake.wait_sent(ANI, "Your complaints")

        # Naming one's own ticket joins it; naming a stranger's does not.
        fake.message(ANI, f"About {number}: still dark tonight")
        (joined,) = await fake.wait_sent(ANI, "was added to ticket")
        assert number in joined["text"]
        fake.message(ANI, f"Same as {budi_number}: garbage near my house too")
        acks = await fake.wait_sent(ANI, "Ticket number", count=2)
        assert budi_number not in acks[-1]["text"]

        api = Api(svc.web_url, await token_for(svc, "sari", "agent"))
        await api.call("PATCH", f"/api/tickets/{number}", json={"state": "resolved"})
        (survey,) = await fake.wait_sent(ANI, "has been resolved")
        labels = [b["text"] for row in survey["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["1 Poor", "2 Fair", "3 Good", "4 Very good"]
        assert fake.texts_to(BUDI)[-1].startswith("Terima kasih")  # Budi stays in Indonesian
