"""A chat gets the service's messages in the order they were written, even when the
first send fails: a retried message is never overtaken by later ones."""

from __future__ import annotations

from tests.connectors.telegram.harness import tg_settings, ticket_number_in
from tests.core.helpers import Api, running, token_for

CITRA = 1003


async def test_replies_arrive_once_and_in_order_after_a_failed_first_send(db_url, tmp_path,
                                                                          fake):
    async with running(tg_settings(db_url, tmp_path, fake)) as svc:
        api = Api(svc.web_url, await token_for(svc, "sari", "agent"))
        fake.fail("sendMessage", status=502)  # the bot API is briefly down
        fake.message(CITRA, "Air PDAM di Perumahan Griya Asri tidak mengalir dua hari")
        number = None

        async def queued_ack() -> bool:  # the ack is in the outbox, its first send failed
            nonlocal number
            async with svc.sessions() as s:
                from sqlalchemy import select

                from storage.models import Outbox, Ticket
                row = (await s.execute(select(Outbox, Ticket.number).join(
                    Ticket, Ticket.id == Outbox.ticket_id).where(
                    Outbox.kind == "ack", Outbox.attempts >= 1))).first()
            if row is not None:
                number = row[1]
            return row is not None

        from tests.connectors.telegram.harness import eventually
        await eventually(queued_ack, what="the first send failed")
        for text in ("Balasan satu", "Balasan dua", "Balasan tiga"):
            status, _ = await api.call("POST", f"/api/tickets/{number}/replies",
                                       json={"text": text})
            assert status == 202
        await fake.wait_sent(CITRA, "Balasan tiga", within=30)
        await fake.wait_for(lambda: len(fake.texts_to(CITRA)) >= 4, what="all messages")
        texts = fake.texts_to(CITRA)
        order = [next(i for i, t in enumerate(texts) if key in t)
                 for key in ("Nomor tiket", "Balasan satu", "Balasan dua", "Balasan tiga")]
        assert order == sorted(order)
        assert ticket_number_in(texts[order[0]]) == number
        for key in ("Nomor tiket", "Balasan satu", "Balasan dua", "Balasan tiga"):
            assert sum(key in t for t in texts) == 1, (key, texts)
