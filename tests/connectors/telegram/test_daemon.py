"""The bar: `aggregator run` against a fake Bot API, including a kill -9 mid-stream.

Every complaint gets a reply with its ticket number; /status shows only the user's
own tickets; a staff reply posted through the API reaches the right chat; a survey
button press is stored. Killed while a batch is half done, the restarted daemon
loses nothing and stores nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import yaml
from sqlalchemy import select

from storage.accounts import add_user, create_token
from storage.db import create_engine, session_factory
from storage.models import Attachment, Outbox, Report, Ticket
from tests.connectors.telegram.harness import eventually, tg_config, ticket_number_in
from tests.core.helpers import Api

U1, U2, U3, U4, U5, U6 = 6001, 6002, 6003, 6004, 6005, 6006


class Daemon:
    def __init__(self, config: Path, env: dict[str, str]):
        self.config, self.env = config, env
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self.url = ""
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aggregator", "--config", str(self.config), "run",
            env=self.env, stderr=asyncio.subprocess.PIPE)
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read(listening))
        self.url = await asyncio.wait_for(listening, 30)

    async def _read(self, listening: asyncio.Future[str]) -> None:
        assert self.proc and self.proc.stderr
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if not listening.done() and '"web listening"' in line:
                listening.set_result(json.loads(line)["url"])
        if not listening.done():
            listening.set_exception(AssertionError("daemon exited:\n" + "\n".join(self.lines)))

    async def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 20)
        if self._drain:
            await self._drain
        return code


async def test_daemon_end_to_end_with_kill_9(db_url, tmp_path, fake):
    config = tmp_path / "config.yaml"
    raw = tg_config(db_url, fake, poll_timeout=2)
    raw["logging"] = {"format": "json", "level": "INFO"}
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "TG_TOKEN": fake.token, "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    daemon = Daemon(config, env)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():  # what `aggregator users add` / `tokens create` do
        await add_user(s, "sari", "agent")
        token = await create_token(s, "sari")

    async def reports_of(user: int) -> list[Report]:
        async with sessions() as s:
            return list((await s.execute(select(Report).where(
                Report.external_id.like(f"{user}:%")).order_by(Report.id))).scalars())

    try:
        await daemon.start()
        api = Api(daemon.url, token)

        # Every complaint gets a reply with its ticket number, in its own chat.
        complaints = {U1: "Lampu jalan di Jl. Merdeka mati", U2: "Air PDAM keruh sejak Senin",
                      U3: "Pungutan liar di loket samsat"}
        sent = {u: fake.message(u, text) for u, text in complaints.items()}
        numbers = {}
        for u, msg in sent.items():
            (ack,) = await fake.wait_sent(u, "Nomor tiket")
            assert ack["reply_parameters"]["message_id"] == msg["message_id"]
            numbers[u] = ticket_number_in(ack["text"])
        assert len(set(numbers.values())) == 3

        # /status answers with the user's tickets only.
        fake.message(U1, "/status")
        (listing,) = await fake.wait_sent(U1, "Aduan Anda")
        assert numbers[U1] in listing["text"]
        assert numbers[U2] not in listing["text"] and numbers[U3] not in listing["text"]
        fake.message(U2, f"/status {numbers[U1]}")
        (refused,) = await fake.wait_sent(U2, "tidak ditemukan")
        assert "Lampu" not in refused["text"]

        # kill -9 while a batch is half done: U4's photo download hangs, U5 and U6 finish.
        await fake.wait_confirmed()
        gate = asyncio.Event()
        photo = fake.photo(U4, b"\xff\xd8" + b"p" * 3000, caption="Tumpukan sampah di TPS")
        photo_path = fake.files[photo["photo"][-1]["file_id"]][0]
        fake.blocked_files[photo_path] = gate
        fake.message(U4, "Baunya sampai ke rumah warga")
        for u, topic in ((U5, "Jalan desa di RT 0{} rusak parah dan berlubang dalam"),
                         (U6, "Saluran irigasi sawah blok {} jebol sejak hujan deras")):
            for i in range(3):
                fake.message(u, topic.format(i))
        batch = [u["update_id"] for u in fake.pending]

        async def halfway() -> bool:
            return len(await reports_of(U5)) == 3 and len(await reports_of(U6)) == 3
        await eventually(halfway, what="U5 and U6 stored")
        await fake.wait_for(lambda: any(m == "getFile" for m, _ in fake.calls), what="getFile")
        assert await reports_of(U4) == []
        assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        assert [u["update_id"] for u in fake.pending] == batch  # nothing confirmed

        gate.set()
        await daemon.start()
        api = Api(daemon.url, token)
        await fake.wait_confirmed(within=30)

        async def u4_done() -> bool:
            return len(await reports_of(U4)) == 2
        await eventually(u4_done, what="U4 stored after restart")
        assert all(fake.delivered[uid] == 2 for uid in batch)  # read again after the crash
        assert [len(await reports_of(u)) for u in (U4, U5, U6)] == [2, 3, 3]
        async with sessions() as s:
            assert len((await s.execute(select(Ticket.id))).all()) == 6
            files = (await s.execute(select(Attachment))).scalars().all()
            assert len(files) == 1 and files[0].data == b"\xff\xd8" + b"p" * 3000
        # U4's reports were stored after the restart: both answered with the number.
        acks = await fake.wait_sent(U4, "tiket", count=2)
        assert ticket_number_in(acks[0]["text"]) == ticket_number_in(acks[1]["text"])
        # Every report owes exactly one acknowledgement. (Those the killed daemon had
        # claimed go out when its outbox lease ends; the outbox tests cover that.)
        async with sessions() as s:
            acks = (await s.execute(select(Outbox.payload).where(Outbox.kind == "ack"))).all()
        ids = [p["report_external_id"] for (p,) in acks]
        assert len(ids) == len(set(ids)) == 3 + 2 + 3 + 3

        # A staff reply posted through the API reaches the right chat.
        status, _ = await api.call("POST", f"/api/tickets/{numbers[U2]}/replies",
                                   json={"text": "Tim PDAM sedang menguras tandon."})
        assert status == 202
        (reply,) = await fake.wait_sent(U2, "menguras tandon")
        assert numbers[U2] in reply["text"]
        assert [m for m in fake.sent if "menguras" in m["text"] and m["chat_id"] != U2] == []

        # Resolution asks for the survey; the button press is stored on the ticket.
        status, _ = await api.call("PATCH", f"/api/tickets/{numbers[U2]}",
                                   json={"state": "resolved"})
        assert status == 200
        (survey,) = await fake.wait_sent(U2, "diselesaikan")
        fake.press(U2, survey, survey["reply_markup"]["inline_keyboard"][1][0]["callback_data"])
        await fake.wait_sent(U2, "Terima kasih atas penilaian Anda: Baik")
        status, ticket = await api.call("GET", f"/api/tickets/{numbers[U2]}")
        assert status == 200 and ticket["satisfaction"] == 3
        assert any(e["type"] == "survey" for e in ticket["events"])

        assert await daemon.stop(signal.SIGTERM) == 0
    finally:
        if daemon.proc and daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()
        await engine.dispose()
