"""Photos, documents, voice, locations, albums, edits; and webhook mode."""

from __future__ import annotations

import hashlib

import aiohttp
from sqlalchemy import select

from storage.models import Attachment, Outbox, Report, Ticket
from tests.connectors.telegram.harness import count, tg_settings, ticket_number_in
from tests.core.helpers import running

FAJAR = 5001


async def test_media_locations_albums_and_edits(db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake, max_file_bytes=4000)
    async with running(settings) as svc:
        jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 10  # 2564 bytes
        fake.photo(FAJAR, jpeg, caption="Jalan berlubang di depan SDN 3", media_group_id="alb1")
        fake.photo(FAJAR, jpeg[::-1], media_group_id="alb1")
        number = ticket_number_in((await fake.wait_sent(FAJAR, "Nomor tiket"))[0]["text"])
        big = fake.add_file(b"%PDF" + b"x" * 9000, "documents/laporan.pdf")
        fake.message(FAJAR, None, caption="/baru Laporan lengkap", document={
            "file_id": big, "file_unique_id": "u1", "file_name": "laporan.pdf",
            "mime_type": "application/pdf", "file_size": 9004})
        voice = fake.add_file(b"OggS" + b"v" * 500, "voice/v1.oga")
        fake.message(FAJAR, None, voice={"file_id": voice, "file_unique_id": "u2",
                                         "duration": 3, "mime_type": "audio/ogg",
                                         "file_size": 504})
        fake.message(FAJAR, None, location={"latitude": -6.2, "longitude": 106.816666})
        original = fake.message(FAJAR, "/baru Banjir di RT 04 setinggi lutut")
        fake.push({"edited_message": {**original, "text": "/baru Banjir di RT 04 setinggi paha",
                                      "edit_date": original["date"] + 60}})
        await fake.wait_confirmed()
        await fake.wait_sent(FAJAR, "ditambahkan ke tiket", count=4)  # doc, voice, place, edit

        async with svc.sessions() as s:
            reports = (await s.execute(select(Report).order_by(Report.id))).scalars().all()
            files = (await s.execute(select(Attachment).order_by(Attachment.id))).scalars().all()
            tickets = (await s.execute(select(Ticket.number, Ticket.report_count))).all()
        texts = [r.text for r in reports]
        assert texts[0] == "Jalan berlubang di depan SDN 3"
        assert texts[1] == "[foto]"  # the album's second photo, same ticket, no second ack
        # Document, voice and location follow up on the album's ticket; only the album's
        # second photo goes unacknowledged.
        assert len([t for t in fake.texts_to(FAJAR) if number in t]) == 4
        assert await count(svc, Outbox, Outbox.kind == "ack") == len(reports) - 1
        # The caption "/baru ..." of a document is not a command: it is text of the report.
        assert "/baru Laporan lengkap" in texts
        assert "[pesan suara]" in texts and "[lokasi -6.2, 106.816666]" in texts
        located = next(r for r in reports if r.text.startswith("[lokasi"))
        assert located.meta["location"] == {"lat": -6.2, "lon": 106.816666}
        edited = next(r for r in reports if r.external_id.endswith(":edit:" + str(
            original["date"] + 60)))
        plain = next(r for r in reports if r.external_id == f"{FAJAR}:{original['message_id']}")
        assert edited.ticket_id == plain.ticket_id
        assert edited.text == "Banjir di RT 04 setinggi paha"

        by_name = {f.filename: f for f in files}
        photos = [f for f in files if f.filename == "photo.jpg"]
        assert [p.data for p in photos] == [jpeg, jpeg[::-1]]
        assert photos[0].sha256 == hashlib.sha256(jpeg).hexdigest()
        pdf = by_name["laporan.pdf"]
        assert pdf.data is None and pdf.size == 9004 and "limit" in pdf.note
        assert any(f.content_type == "audio/ogg" and f.data.startswith(b"OggS") for f in files)
        assert sum(n for _, n in tickets) == len(reports)


async def test_webhook_mode_checks_the_secret_and_stores_once(db_url, tmp_path, fake):
    settings = tg_settings(db_url, tmp_path, fake, mode="webhook",
                           webhook_secret="s3cret_TOKEN_for_tests_0123",
                           web={"public_url": "https://aduan.example.go.id"})
    async with running(settings) as svc:
        await fake.wait_for(lambda: fake.webhook, what="setWebhook")
        assert fake.webhook["url"] == "https://aduan.example.go.id/hooks/tg"
        assert fake.webhook["secret_token"] == "s3cret_TOKEN_for_tests_0123"
        update = {"update_id": 42, "message": {
            "message_id": 7, "date": 1767225600, "text": "Puskesmas tutup di jam pelayanan",
            "chat": {"id": FAJAR, "type": "private", "first_name": "Fajar"},
            "from": {"id": FAJAR, "is_bot": False, "first_name": "Fajar"}}}
        url = f"{svc.web_url}/hooks/tg"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update) as resp:
                assert resp.status == 401
            async with http.post(url, json=update, headers={
                    "X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                assert resp.status == 401
            good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret_TOKEN_for_tests_0123"}
            async with http.post(url, data=b"{not json", headers=good) as resp:
                assert resp.status == 400
            for _ in range(2):  # Telegram retries a delivery it thinks failed
                async with http.post(url, json=update, headers=good) as resp:
                    assert resp.status == 200
        (ack,) = await fake.wait_sent(FAJAR, "Nomor tiket")
        assert await count(svc, Report) == 1
        assert ack["reply_parameters"]["message_id"] == 7


async def test_an_unreadable_update_is_skipped_alone(db_url, tmp_path, fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        fake.push({"message": {"message_id": 1, "date": 1767225600,
                               "chat": {"id": FAJAR, "type": "private"},
                               "from": {"id": FAJAR, "is_bot": False, "first_name": "F"},
                               "photo": [{"file_id": "old-style", "width": 1, "height": 1}]}})
        fake.message(FAJAR, "Puskesmas tutup di jam pelayanan")
        await fake.wait_sent(FAJAR, "Nomor tiket")
        await fake.wait_confirmed()
        health = svc.connectors["tg"].health()
        assert health["unreadable_updates"] == 1 and health["skipped_updates"] == 0
        assert await count(svc, Report) == 1
