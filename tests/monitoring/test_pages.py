"""The dashboard and the monthly report as a browser and a printer get them: one HTML
page with its charts drawn as SVG (no script, no outside resources), in Indonesian or
English, allowed by its own Content-Security-Policy; and `aggregator report`."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import aiohttp
import pytest
import yaml

from aggregator.config import parse
from tests.core.helpers import cli_async, running, token_for
from tests.monitoring import dataset

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def settings(db_url, tmp_path):
    return parse({"database": {"url": db_url}, "web": {"port": 0},
                  "logging": {"format": "text"}, "tickets": {"sla": dataset.SLA}},
                 base_dir=tmp_path, env={})


async def get(url: str, token: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http, http.get(
            url, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, dict(resp.headers), await resp.text()


def svgs(html: str) -> list[ET.Element]:
    """Every inline chart, parsed as the XML it must be."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


async def test_dashboard_draws_its_charts(settings, sessions):
    async with sessions() as s, s.begin():
        await dataset.load(s)
    async with running(settings) as svc:
        token = await token_for(svc, "kepala", "supervisor")
        status, headers, html = await get(
            f"{svc.web_url}/monitoring?from=2026-11-01&to=2026-11-30", token)
        _, _, english = await get(f"{svc.web_url}/monitoring?month=2026-11&lang=en", token)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    charts = {c.find(f"{SVG}title").text: c for c in svgs(html)}
    assert set(charts) >= {"Laporan dan tiket per hari", "Tiket menurut kanal",
                           "Kepatuhan SLA: Tanggapan pertama", "Kepatuhan SLA: Penyelesaian",
                           "Tiket terbuka menurut umur", "IKM: Unsur pelayanan"}
    # A line per series, a point per day of November; the totals are what happened.
    lines = {p.get("data-name"): p.get("points").split()
             for p in charts["Laporan dan tiket per hari"].iter(f"{SVG}polyline")}
    assert set(lines) == {"Laporan masuk", "Tiket baru"}
    assert all(len(points) == 30 for points in lines.values())
    assert "Laporan masuk: 8 in total" in charts["Laporan dan tiket per hari"].find(
        f"{SVG}desc").text
    bars = {r.get("data-label"): float(r.get("data-value"))
            for r in charts["IKM: Unsur pelayanan"].iter(f"{SVG}rect")}
    assert len(bars) == 9 and bars["Persyaratan"] == round(8 / 3 * 25, 2)
    parts = [(r.get("data-label"), r.get("data-part"), r.get("data-value"))
             for r in charts["Kepatuhan SLA: Tanggapan pertama"].iter(f"{SVG}rect")
             if r.get("data-part")]
    assert ("Semua", "Tepat waktu", "2") in parts and ("Dinas PU", "Terlambat", "1") in parts
    assert "80,56 – B" in html and "Sampel terlalu kecil" in html
    # Nothing from elsewhere, no script; the one inline stylesheet is allowed by hash.
    tags = Tags()
    tags.feed(html)
    assert not [t for t, _ in tags.tags if t in ("script", "iframe", "img", "link")]
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in headers["Content-Security-Policy"]
    assert "@media print" in style
    titles = {c.find(f"{SVG}title").text for c in svgs(english)}
    assert {"Reports and tickets per day", "IKM: Service element"} <= titles
    assert "Sample too small" in english


async def test_monthly_report_page_and_agent_limits(settings, sessions):
    async with sessions() as s, s.begin():
        await dataset.load(s)
    async with running(settings) as svc:
        boss = await token_for(svc, "kepala", "supervisor")
        status, _, html = await get(
            f"{svc.web_url}/monitoring/report?month=2026-11&unit=Dinas%20PU", boss)
        agent = await token_for(svc, "ani", "agent")
        async with svc.sessions() as s, s.begin():
            from storage.accounts import set_units
            await set_units(s, "ani", ["Dinsos"])
        denied, _, body = await get(f"{svc.web_url}/api/stats?month=2026-11&unit=Dinas%20PU",
                                    agent)
        mine, _, _ = await get(f"{svc.web_url}/api/stats?month=2026-11&unit=Dinsos", agent)
        bad, _, _ = await get(f"{svc.web_url}/api/stats?month=2026-13", boss)
        anonymous, _, _ = await get(f"{svc.web_url}/api/stats", "")
    assert status == 200
    assert "Laporan bulanan pengelolaan pengaduan" in html and "November 2026" in html
    assert "Dinas PU" in html and "84,72 – B" in html and "Kepala Unit" in html
    assert len(svgs(html)) >= 6
    assert (denied, mine, bad, anonymous) == (403, 200, 400, 401)


async def test_cli_report_writes_html_and_csv(settings, sessions, tmp_path):
    async with sessions() as s, s.begin():
        await dataset.load(s)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "database": {"url": settings.database.url}, "logging": {"format": "text"},
        "tickets": {"sla": dataset.SLA}}))
    out = tmp_path / "out"
    result = await cli_async(config, "report", "--month", "2026-11", "--unit", "Dinsos",
                             "--lang", "en", "--out", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["figures-2026-11-Dinsos.csv", "report-2026-11-Dinsos.html",
                     "tickets-2026-11-Dinsos.csv"]
    html = (out / "report-2026-11-Dinsos.html").read_text(encoding="utf-8")
    assert "Monthly complaint handling report" in html and "November 2026" in html
    assert len(svgs(html)) >= 6 and "72.22 – C" in html
    assert (await cli_async(config, "report", "--month", "11-2026", "--out", str(out))
            ).returncode == 2
