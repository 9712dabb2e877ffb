"""CSV exports read back with the csv module, as a spreadsheet user would open them."""

from __future__ import annotations

import csv
import io

import aiohttp
import pytest
from sqlalchemy import update

from aggregator.config import parse
from storage.models import Ticket
from tests.core.helpers import running, token_for
from tests.monitoring import dataset


@pytest.fixture
def settings(db_url, tmp_path):
    return parse({"database": {"url": db_url}, "web": {"port": 0},
                  "logging": {"format": "text"}, "tickets": {"sla": dataset.SLA}},
                 base_dir=tmp_path, env={})


async def fetch(url: str, token: str) -> tuple[int, dict[str, str], list[dict[str, str]]]:
    async with aiohttp.ClientSession() as http, http.get(
            url, headers={"Authorization": f"Bearer {token}"}) as resp:
        text = await resp.text()
        return resp.status, dict(resp.headers), list(csv.DictReader(io.StringIO(text)))


async def test_tickets_and_figures_csv(settings, sessions):
    async with sessions() as s, s.begin():
        await dataset.load(s)
        # A title a spreadsheet would run as a formula stays text.
        await s.execute(update(Ticket).where(Ticket.id == 3).values(
            title='=HYPERLINK("http://evil.example","klik")'))
    async with running(settings) as svc:
        token = await token_for(svc, "kepala", "supervisor")
        status, headers, tickets = await fetch(
            f"{svc.web_url}/api/tickets.csv?month=2026-11", token)
        _, _, figures = await fetch(
            f"{svc.web_url}/api/stats.csv?from=2026-11-01&to=2026-11-30", token)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert 'filename="tickets-2026-11-01_2026-11-30.csv"' in headers["Content-Disposition"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert [t["number"] for t in tickets] == [f"ADU-2026-00000{i}" for i in range(1, 7)]
    two = tickets[1]
    assert (two["created_at"], two["channel"], two["unit"], two["state"]) == (
        "2026-11-06T15:00:00+07:00", "telegram", "Dinas PU", "closed")
    assert (two["first_response_hours"], two["first_response_sla"]) == ("3.00", "breached")
    assert (two["resolution_hours"], two["resolution_sla"]) == ("21.00", "met")
    assert tickets[0]["reports"] == "3"
    assert tickets[2]["title"] == "'=HYPERLINK(\"http://evil.example\",\"klik\")"
    assert tickets[4]["first_response_sla"] == ""  # closed unanswered: no deadline

    def value(section: str, metric: str, breakdown: str = "", date: str = "") -> str:
        (row,) = [r for r in figures if (r["section"], r["metric"], r["breakdown"],
                                         r["date"]) == (section, metric, breakdown, date)]
        return row["value"]

    assert value("volume", "reports") == "8"
    assert value("volume", "tickets", "channel=email") == "3"
    assert value("daily", "reports", "channel=telegram", "2026-11-03") == "1"
    assert value("response_times", "first_response_median_hours") == "1.5"
    # (Shares and the backlog's ages depend on today; test_figures pins the clock.)
    assert value("sla", "resolution_sla_met") == "3"
    assert value("units", "first_response_sla_share", "unit=Dinas PU") == "0.5"
    assert value("satisfaction", "ikm") == "80.56"
    assert value("satisfaction", "nrr", "unit=Dinsos;element=sarana") == "2.0"
    assert value("backlog", "open") == "2"
