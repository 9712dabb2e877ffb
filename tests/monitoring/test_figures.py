"""The figures of a fixed month, against values worked out by hand (see dataset.py):
counts, working-hour percentiles, SLA shares, backlog, escalations, recurring problems
and the IKM, overall and per unit, with the access rules applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import parse
from aggregator.monitoring import stats
from aggregator.monitoring.period import Scope, month_period
from aggregator.monitoring.rollup import Rollup
from storage.accounts import Principal
from tests.monitoring import dataset

ADMIN = Principal(user_id=0, name="t", role="admin")
EVERYTHING = Scope()


@pytest.fixture
async def month(sessions, db_url, tmp_path: Path):
    settings = parse({"database": {"url": db_url}, "tickets": {"sla": dataset.SLA}},
                     base_dir=tmp_path, env={})
    async with sessions() as s, s.begin():
        await dataset.load(s)
    assert await Rollup(settings, sessions).refresh() >= 31  # 31 Oct .. today

    async def figures(scope: Scope = EVERYTHING, who: Principal = ADMIN) -> dict:
        period = month_period("2026-11", settings.tickets.sla.calendar.calendar())
        async with sessions() as s:
            return await stats.compute(s, settings, period, scope, who,
                                       now=dataset.at(dataset.NOW))

    return figures


async def test_volume_per_day_channel_and_kind(month):
    f = await month()
    vol = f["volume"]
    assert (vol["reports"], vol["tickets"]) == (8, 6)
    assert vol["reports_by_channel"] == {"email": 4, "telegram": 3, "web-form": 1}
    assert vol["tickets_by_channel"] == {"email": 3, "telegram": 2, "web-form": 1}
    assert vol["tickets_by_kind"] == {"complaint": 6}
    days = {d["date"]: d for d in vol["days"]}
    assert len(days) == 30
    assert days["2026-11-03"]["reports"] == {"email": 1, "telegram": 1}
    assert days["2026-11-03"]["reports_by_kind"] == {"complaint": 2}
    assert days["2026-11-03"]["tickets"] == {}
    assert days["2026-11-07"]["tickets"] == {"web-form": 1}


async def test_working_hour_percentiles(month):
    f = await month()
    # First responses in working hours: 1, 3, 0.5, 2 -> median 1.5, p90 2.7.
    # Resolutions: 6, 21, 9 -> median 9, p90 9 + 0.8 x 12 = 18.6.
    assert f["working_hours"] is True
    assert f["response_times"] == {
        "first_response": {"count": 4, "median_hours": 1.5, "p90_hours": 2.7,
                           "median_seconds": 5400.0, "p90_seconds": 9720.0},
        "resolution": {"count": 3, "median_hours": 9.0, "p90_hours": 18.6,
                       "median_seconds": 32400.0, "p90_seconds": 66960.0},
    }


async def test_sla_shares(month):
    f = await month()
    # First response: 1 met, 2 late, 3 met, 4 late, 5 closed unanswered (no target),
    # 6 not yet due. Resolution: 1, 2, 4 met; 3 open past its due time; 6 not yet due.
    assert f["sla"] == {
        "first_response": {"met": 2, "breached": 2, "pending": 1, "share": 0.5},
        "resolution": {"met": 3, "breached": 1, "pending": 1, "share": 0.75},
    }
    units = {u["unit"]: u for u in f["units"]}
    assert list(units) == ["Dinas PU", "Dinsos", None]
    assert units["Dinas PU"]["sla"]["first_response"]["share"] == 0.5
    assert units["Dinsos"]["sla"]["resolution"]["share"] == 0.5
    assert units["Dinsos"]["first_response"]["median_hours"] == 1.25  # 0.5 and 2
    assert (units[None]["tickets"], units[None]["open"]) == (2, 1)


async def test_backlog_escalations_and_recurring_problems(month):
    f = await month()
    b = f["backlog"]
    assert b["open"] == 2 and b["by_state"] == {"in_progress": 1, "new": 1}
    ages = {a["bucket_en"]: a["count"] for a in b["by_age"]}
    assert ages == {"< 1 day": 1, "1-3 days": 0, "3-7 days": 0, "7-14 days": 0,
                    "14-30 days": 1, "> 30 days": 0}
    e = f["escalations"]
    assert (e["escalated"], e["escalated_tickets"], e["by_level"]) == (1, 1,
                                                                       {"kepala unit": 1})
    assert (e["viral_episodes"], e["viral_tickets"]) == (2, 1)
    r = f["recurring"]
    assert [(c["number"], c["reports"]) for c in r["largest_clusters"]] == [
        ("ADU-2026-000001", 3)]
    assert (r["reopened"], r["reopened_tickets"]) == (1, 1)
    assert r["most_reopened"][0]["number"] == "ADU-2026-000002"
    assert r["top_places"] == [{"place": "pasar kliwon", "reports": 2},
                               {"place": "rsud soetomo", "reports": 2},
                               {"place": "sekolah sdn 3", "reports": 1}]


async def test_ikm_overall_and_per_unit(month):
    s = (await month())["satisfaction"]
    # Latest answers: persyaratan 2, 3, 3 -> 8/3; sarana 4, 3, 2 -> 3; the other seven
    # 4, 3, 3 -> 10/3. (8/3 + 3 + 7 x 10/3) / 9 = 29/9 = 3.2222; x 25 = 80.56: B.
    assert s["respondents"] == 3
    assert s["nrr_weighted"] == round(29 / 9, 4) and s["ikm"] == 80.56 and s["grade"] == "B"
    nrr = {e["element"]: e["nrr"] for e in s["elements"]}
    assert nrr["persyaratan"] == round(8 / 3, 4) and nrr["sarana"] == 3.0
    assert nrr["waktu"] == round(10 / 3, 4)
    # People served: reporters of tickets resolved in November: 3 on ticket 1, one each
    # on 2 and 4 (ticket 7 was resolved in November too: one more). Table: 6 -> 6.
    assert s["sample"] == {"population": 6, "required": 6, "enough": False}
    assert s["overall_rating"]["answers"] == 2 and s["overall_rating"]["mean"] == 3.0
    units = {u["unit"]: u for u in s["units"]}
    # Dinas PU: persyaratan (2 + 3)/2 = 2.5, others 3.5 -> 30.5/9 x 25 = 84.72 (B).
    # Dinsos: eight 3s and a 2 -> 26/9 x 25 = 72.22 (C).
    assert (units["Dinas PU"]["ikm"], units["Dinas PU"]["grade"]) == (84.72, "B")
    assert (units["Dinsos"]["ikm"], units["Dinsos"]["grade"]) == (72.22, "C")
    assert units["Dinsos"]["sample"] == {"population": 1, "required": 1, "enough": True}
    assert units["Dinas PU"]["sample"]["enough"] is False


async def test_unit_channel_and_agent_scopes(month):
    pu = await month(Scope(unit="Dinas PU"))
    assert (pu["volume"]["tickets"], pu["volume"]["reports"]) == (2, 4)
    assert pu["satisfaction"]["ikm"] == 84.72
    email = await month(Scope(channel="email"))
    assert email["volume"]["tickets"] == 3 and email["volume"]["reports"] == 4
    assert email["volume"]["reports_by_channel"] == {"email": 4}
    # An agent of Dinsos sees Dinsos tickets and unassigned ones, never Dinas PU's.
    agent = Principal(user_id=1, name="a", role="agent", units=frozenset({"Dinsos"}))
    seen = await month(who=agent)
    assert seen["volume"]["tickets"] == 4
    assert {u["unit"] for u in seen["units"]} == {"Dinsos", None}
    assert seen["satisfaction"]["ikm"] == 72.22
