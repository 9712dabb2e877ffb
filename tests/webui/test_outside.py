"""The bar, in English: what an outside script can do with only labels, roles and
visible text. Sign in, find a ticket by its number and by a word, open it, reply and
see the reply in its timeline; a <script> payload stays text and never runs."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.webui.conftest import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_outside_script_gets_through_by_labels_and_roles(live, page):
    made = await live.post_report({
        "id": "OUT-1", "channel": "sms-1708", "reporter": {"name": "Dewi"},
        "text": "Kabel listrik menjuntai <script>window.__ran = 1</script> di Jl. Anggrek"})
    await page.goto(live.url)
    await page.get_by_role("button", name="English").click()
    await page.get_by_label("Username").fill("ani")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await page.get_by_label("Search").fill(made["ticket"])
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name=made["ticket"])).to_be_visible()
    await page.get_by_label("Search").fill("menjuntai")
    await page.get_by_label("Search").press("Enter")
    await page.get_by_role("link", name=made["ticket"]).click()

    await expect(page.get_by_role("heading", name=made["ticket"])).to_be_visible()
    await expect(page.get_by_text("<script>window.__ran = 1</script>", exact=False).first
                 ).to_be_visible()
    await page.get_by_label("Reply").fill("We have sent a team to Jl. Anggrek.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("region", name="Timeline")
                 .get_by_text("We have sent a team to Jl. Anggrek.")).to_be_visible()
    assert await page.evaluate("window.__ran") is None and page.dialogs == []
