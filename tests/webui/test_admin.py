"""Admins manage users, units and tokens in the browser; supervisors read connector
health and send dead letters again; anyone can switch to English and back."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import insert, select

from storage.models import Outbox
from storage.types import utcnow
from tests.webui.conftest import PASSWORD, login, shot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_users_units_and_tokens(live, page):
    await login(page, live, "root")
    await page.get_by_role("link", name="Unit", exact=True).click()
    await page.get_by_label("Nama unit").fill("Dinas Kesehatan")
    await page.get_by_label("Keterangan").fill("Puskesmas dan RSUD")
    await page.get_by_role("button", name="Tambah unit").click()
    await expect(page.get_by_role("cell", name="Dinas Kesehatan Puskesmas dan RSUD")
                 ).to_be_visible()

    await page.get_by_role("link", name="Pengguna").click()
    await page.get_by_label("Nama pengguna").fill("budi")
    await page.get_by_label("Peran").select_option("agent")
    await page.get_by_label("Kata sandi awal").fill("sandi-budi-2026")
    await page.get_by_role("button", name="Tambah pengguna").click()
    await expect(page.get_by_role("status")).to_contain_text("Pengguna ditambahkan")
    await page.get_by_role("link", name="Ubah budi").click()
    await page.get_by_label("Dinas Kesehatan").check()
    await page.get_by_role("button", name="Simpan perubahan").click()
    row = page.get_by_role("row").filter(has_text="budi")
    await expect(row).to_contain_text("Dinas Kesehatan")
    await shot(page, "11-users")

    await page.get_by_role("link", name="Token API").click()
    await page.get_by_label("Label").fill("dasbor")
    await page.get_by_role("button", name="Buat token").click()
    token = await page.get_by_label("Nilai token").input_value()
    assert token.startswith("adu_")
    answer = await page.request.get(f"{live.url}/api/tickets",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    await shot(page, "12-tokens")
    await page.goto(f"{live.url}/ui/admin/tokens")  # the value is never shown again
    assert token not in await page.content()
    page.accept_dialogs = True  # "Cabut token ini?" asks first
    row = page.get_by_role("row").filter(has_text="dasbor")
    await row.get_by_role("button", name="Cabut").click()
    await expect(row).to_contain_text("Dicabut")
    answer = await page.request.get(f"{live.url}/api/tickets",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 401


async def test_health_and_dead_letters_for_supervisors(live, page):
    made = await live.post_report({"id": "DL-1", "text": "Pesan untuk uji kotak keluar.",
                                   "reporter": {"name": "Warga"}})
    async with live.service.sessions() as s, s.begin():
        now = utcnow()
        await s.execute(insert(Outbox).values(
            source="lapor", kind="reply", recipient="t:999", payload={"text": "x"},
            state="dead", attempts=25, next_attempt_at=now, created_at=now,
            last_error="callback answered 503"))
    await login(page, live, "kepala")
    await page.get_by_role("link", name="Kesehatan").click()
    connectors = page.get_by_role("region", name="Konektor")
    await expect(connectors.get_by_role("cell", name="lapor", exact=True)).to_be_visible()
    await expect(page.get_by_role("region", name="Tugas berkala")).to_contain_text("escalation")
    await shot(page, "13-health")
    await page.get_by_role("link", name="Kotak keluar").click()
    await expect(page.get_by_text("callback answered 503")).to_be_visible()
    await shot(page, "14-outbox")
    await page.get_by_role("button", name="Kirim ulang").click()
    await expect(page.get_by_role("status")).to_contain_text("antrean pengiriman lagi")
    async with live.service.sessions() as s:
        states = (await s.execute(select(Outbox.state).where(Outbox.recipient == "t:999"))
                  ).scalars().all()
    assert states and states[0] in ("pending", "sent")
    assert made["ticket"]


async def test_english_on_request(live, page):
    await page.goto(f"{live.url}/ui/login")
    await page.get_by_role("button", name="English").click()
    await page.get_by_label("Username").fill("ani")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    await expect(page.get_by_label("Search")).to_be_visible()
    await shot(page, "15-queue-english")
    await page.get_by_role("button", name="Bahasa Indonesia").click()
    await expect(page.get_by_role("heading", name="Antrean")).to_be_visible()
