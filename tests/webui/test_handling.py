"""Working a ticket: acknowledge its escalation, route and prioritise it, write an
internal note (never sent), merge two tickets and split a report out, each with its
preview; files that came with a report are shown safely."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from aggregator.domain import Attachment, Author, Report
from storage.models import Outbox
from tests.webui.conftest import login, shot
from tests.webui.test_browser import report

pytestmark = pytest.mark.asyncio(loop_scope="session")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a1c9d3e90000000049454e44ae426082")


async def outbox_count(live) -> int:
    async with live.service.sessions() as s:
        return (await s.execute(select(func.count()).select_from(Outbox))).scalar_one()


async def test_escalation_routing_note_merge_and_split(live, page):
    hot = await live.post_report(report(
        11, "Jembatan ambruk, sudah didatangi wartawan, warga tidak bisa lewat."))
    first = await live.post_report(report(12, "Lubang besar di Jl. Cempaka dekat pasar."))
    second = await live.post_report(report(13, "Jalan Cempaka berlubang, motor saya rusak."))
    await login(page, live, "kepala")

    await page.goto(f"{live.url}/ui/tickets/{hot['ticket']}")
    ack = page.get_by_role("button", name="Akui eskalasi")
    for _ in range(60):  # the escalation job runs every second
        if await ack.count():
            break
        await asyncio.sleep(0.25)
        await page.reload()
    await expect(page.get_by_role("heading", name="Eskalasi level 1")).to_be_visible()
    await shot(page, "08-escalated")
    await ack.click()
    await expect(page.get_by_role("status")).to_contain_text("Eskalasi diakui")
    await expect(page.get_by_text("kepala mengakui eskalasi level 1")).to_be_visible()

    await page.get_by_label("Status").select_option(label="Diproses")
    await page.get_by_label("Prioritas").select_option(label="Mendesak")
    await page.get_by_label("Unit", exact=True).select_option("Bina Marga")
    await page.get_by_label("Petugas").select_option("ani")
    await page.get_by_role("button", name="Simpan perubahan").click()
    await expect(page.get_by_role("status")).to_contain_text("Perubahan disimpan")
    timeline = page.get_by_role("region", name="Linimasa")
    await expect(timeline.get_by_text("kepala mengubah prioritas: Tinggi → Mendesak")
                 ).to_be_visible()
    await expect(timeline.get_by_text("kepala memindahkan ke unit: Bina Marga")).to_be_visible()
    await expect(timeline.get_by_text("kepala menugaskan ke: ani")).to_be_visible()

    before = await outbox_count(live)
    await page.get_by_label("Catatan untuk staf").fill(
        "Koordinasi dengan Dinas PU, jangan dijanjikan tanggal.")
    await page.get_by_role("button", name="Simpan catatan").click()
    await expect(timeline.get_by_text("Catatan internal dari kepala")).to_be_visible()
    await expect(timeline.get_by_text("jangan dijanjikan tanggal")).to_be_visible()
    assert await outbox_count(live) == before  # a note goes to nobody

    await page.goto(f"{live.url}/ui/tickets/{first['ticket']}")
    await page.get_by_label("Nomor tiket tujuan").fill(second["ticket"])
    await page.get_by_role("button", name="Pratinjau penggabungan").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Gabungkan {first['ticket']} ke {second['ticket']}?")
    await expect(page.get_by_text("akan punya 2 laporan")).to_be_visible()
    await shot(page, "09-merge-preview")
    await page.get_by_role("button", name="Gabungkan").click()
    await expect(page.get_by_role("status")).to_contain_text("Tiket digabungkan")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(second["ticket"])
    await expect(page.get_by_text(f"Tiket {first['ticket']} digabungkan ke tiket ini")
                 ).to_be_visible()

    await page.get_by_role("link", name="Pisahkan laporan ini").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Pisahkan laporan")
    await page.get_by_role("button", name="Pisahkan").click()
    await expect(page.get_by_role("status")).to_contain_text("Laporan dipisahkan")
    await expect(page.get_by_text(f"dipisahkan dari {second['ticket']}")).to_be_visible()


async def test_attachments_images_inline_others_downloaded_safely(live, page):
    (made,) = await live.service.ingestor.submit([Report(
        source="telegram", channel="telegram", external_id="tg-1",
        text="Foto sampah di sungai, dan surat keterangannya.",
        author=Author(handle="5550001", name="Budi"),
        attachments=(Attachment("sungai.png", "image/png", len(PNG), data=PNG),
                     Attachment("surat.pdf", "application/pdf", 22,
                                data=b"%PDF-1.4 <script>x</script>"),
                     Attachment("gambar.svg", "image/svg+xml", 40,
                                data=b"<svg onload='alert(1)'></svg>")))])
    await login(page, live, "kepala")
    await page.goto(f"{live.url}/ui/tickets/{made.ticket_number}")
    image = page.get_by_role("img", name="sungai.png")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.naturalWidth") == 1
    for name in ("surat.pdf", "gambar.svg"):
        link = page.get_by_role("link", name=name)
        await expect(link).to_be_visible()
        answer = await page.request.get(live.url + await link.get_attribute("href"))
        headers = answer.headers
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"].startswith("attachment;")
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
    assert page.dialogs == []
    await shot(page, "10-attachments")
