"""Staff work the queue in a real browser: sign in, find a ticket that came through the
webhook, reply, and see it on the ticket and in the outbox; hostile complaint text is
shown as text; a form without its CSRF token is refused; masked identities stay
masked; new reports appear on an open queue page."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from storage.models import Outbox, TicketEvent
from tests.webui.conftest import login, shot

pytestmark = pytest.mark.asyncio(loop_scope="session")


def report(i: int, text: str, **kw: object) -> dict[str, object]:
    return {"id": f"LAPOR-{i}", "text": text, "channel": "web-form",
            "reporter": {"name": f"Warga {i}", "phone": f"0812000{i:04d}"}, **kw}


async def test_find_by_number_and_word_reply_and_see_it_delivered(live, page):
    await live.post_report(report(1, "Lampu jalan mati di depan SDN Kenanga sejak seminggu."))
    target = await live.post_report(report(
        2, "Gorong-gorong tersumbat di Jl. Flamboyan, air meluap ke rumah warga."))
    number = target["ticket"]
    await login(page, live, "ani")
    await expect(page.get_by_role("link", name=number)).to_be_visible()
    await shot(page, "01-queue")

    await page.get_by_label("Cari").fill("tersumbat")
    await page.get_by_role("button", name="Cari").click()
    await expect(page.get_by_role("link", name=number)).to_be_visible()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("mark").first).to_have_text(re.compile("tersumbat", re.I))
    await shot(page, "02-search-word")

    await page.get_by_label("Cari").fill(number)
    await page.get_by_label("Cari").press("Enter")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.get_by_role("link", name=number).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    await expect(page.get_by_text("callback LAPOR! ke 127.0.0.1")).to_be_visible()

    answer = "Terima kasih, petugas kami meluncur ke Jl. Flamboyan hari ini."
    await page.get_by_label("Balasan").fill(answer)
    await page.get_by_role("button", name="Kirim balasan").click()
    await expect(page.get_by_role("status")).to_contain_text("Balasan masuk antrean")
    timeline = page.get_by_role("region", name="Linimasa")
    await expect(timeline.get_by_text(answer)).to_be_visible()
    await expect(timeline.get_by_text("Balasan dari ani")).to_be_visible()

    async with live.service.sessions() as s:
        rows = (await s.execute(select(Outbox.kind, Outbox.source).where(
            Outbox.kind == "reply"))).all()
    assert [tuple(r) for r in rows] == [("reply", "lapor")]
    await live.receiver.until(lambda: any(
        c["body"].get("reply", {}).get("text") == answer or answer in str(c["body"])
        for c in live.receiver.calls))
    for _ in range(50):  # the sender marks the row sent right after the callback answers
        await page.reload()
        if await timeline.get_by_text("Balasan · LAPOR!: Terkirim").count():
            break
        await asyncio.sleep(0.2)
    await expect(timeline.get_by_text("Balasan · LAPOR!: Terkirim")).to_be_visible()
    await shot(page, "03-ticket-after-reply")


async def test_script_in_a_complaint_is_shown_as_text_and_never_runs(live, page):
    payload = ("<script>window.__xss = 'script'; alert('xss')</script>"
               "<img src=x onerror=\"window.__xss = 'img'; alert(1)\"> Sampah menumpuk di pasar")
    made = await live.post_report(report(3, payload, title="<b onmouseover=alert(2)>judul</b>"))
    await login(page, live, "kepala")
    await expect(page.get_by_text("<b onmouseover=alert(2)>judul</b>")).to_be_visible()
    await page.get_by_role("link", name=made["ticket"]).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(made["ticket"])
    body = page.get_by_role("region", name="Linimasa")
    await expect(body.get_by_text("<script>window.__xss", exact=False)).to_be_visible()
    await expect(body.get_by_text("<img src=x onerror=", exact=False)).to_be_visible()
    await expect(body.get_by_text("<b onmouseover=alert(2)>judul</b>")).to_be_visible()
    assert await page.locator("img[src='x']").count() == 0
    assert await page.locator("b[onmouseover]").count() == 0
    assert await page.evaluate("window.__xss") is None
    assert page.dialogs == []
    response = await page.request.get(page.url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    await shot(page, "04-hostile-text")


async def test_a_form_without_its_csrf_token_is_refused(live, page):
    made = await live.post_report(report(4, "Pungutan liar di loket parkir Pasar Melati."))
    await login(page, live, "ani")
    await page.goto(f"{live.url}/ui/tickets/{made['ticket']}")
    form = page.locator("form[action$='/reply']")
    await form.locator("input[name=csrf_token]").evaluate("node => node.remove()")
    await page.get_by_label("Balasan").fill("Balasan tanpa token")
    await page.get_by_role("button", name="Kirim balasan").click()
    await expect(page.get_by_role("heading", name="Ditolak")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("CSRF")
    await shot(page, "05-csrf-refused")
    async with live.service.sessions() as s:
        replies = (await s.execute(select(func.count()).select_from(TicketEvent)
                                   .where(TicketEvent.type == "reply"))).scalar_one()
    assert replies == 0
    await page.goto(f"{live.url}/ui/tickets/{made['ticket']}")
    await expect(page.get_by_text("Balasan tanpa token")).to_have_count(0)


async def test_an_agent_cannot_see_a_masked_reporters_contact(live, page):
    masked = await live.post_report(report(
        5, "Petugas puskesmas meminta uang tambahan untuk surat rujukan.",
        reporter={"name": "Sri Rahayu", "email": "sri.rahayu@contoh.id",
                  "phone": "081234567890", "anonymous": True}))
    sealed = await live.post_report(report(
        6, "Dugaan suap pada pengadaan alat kesehatan.", confidential=True,
        reporter={"name": "Pelapor WBS", "email": "wbs@contoh.id"}))
    await login(page, live, "ani")
    await page.goto(f"{live.url}/ui/tickets/{masked['ticket']}")
    timeline = page.get_by_role("region", name="Linimasa")
    await expect(timeline.get_by_text("Identitas disembunyikan")).to_be_visible()
    html = await page.content()
    for secret in ("sri.rahayu@contoh.id", "Sri Rahayu", "6281234567890", "081234567890"):
        assert secret not in html
    await expect(page.get_by_role("link", name=sealed["ticket"])).to_have_count(0)
    await page.goto(f"{live.url}/ui/tickets/{sealed['ticket']}")
    await expect(page.get_by_role("heading", name="Tidak ditemukan")).to_be_visible()
    assert "wbs@contoh.id" not in await page.content()
    await shot(page, "06-agent-masked")

    await page.context.clear_cookies()
    await login(page, live, "kepala")
    await page.goto(f"{live.url}/ui/tickets/{masked['ticket']}")
    await expect(page.get_by_text("sri.rahayu@contoh.id")).to_be_visible()


async def test_a_new_report_appears_on_an_open_queue_without_a_reload(live, page):
    await live.post_report(report(7, "Trotoar rusak di depan Terminal Kartini."))
    await login(page, live, "kepala")
    await page.evaluate("window.__stay = 'same page'")
    made = await live.post_report(report(8, "Banjir setinggi lutut di perumahan Griya Asri."))
    row = page.get_by_role("link", name=made["ticket"])
    await expect(row).to_be_visible(timeout=15_000)
    await expect(page.locator("#live")).to_contain_text("1 tiket baru atau berubah")
    assert await page.evaluate("window.__stay") == "same page"
    await shot(page, "07-live-queue")

    await page.keyboard.press("j")
    await page.keyboard.press("o")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("ADU-")
