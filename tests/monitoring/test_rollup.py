"""The figure cells follow the tables: a change to a ticket, a new answer or a new
report moves the figures at the next refresh, and only the days it touches are
rebuilt; a different SLA calendar rebuilds everything."""

from __future__ import annotations

from sqlalchemy import insert, update

from aggregator.config import parse
from aggregator.monitoring import stats
from aggregator.monitoring.period import Scope, month_period
from aggregator.monitoring.rollup import Rollup
from storage.accounts import Principal
from storage.models import SurveyAnswer, Ticket
from storage.types import utcnow
from tests.monitoring import dataset

ADMIN = Principal(user_id=0, name="t", role="admin")


def settings_for(db_url, tmp_path, **calendar):
    return parse({"database": {"url": db_url},
                  "tickets": {"sla": {"calendar": {**dataset.SLA["calendar"], **calendar}}}},
                 base_dir=tmp_path, env={})


async def figures(sessions, settings, scope: Scope | None = None) -> dict:
    period = month_period("2026-11", settings.tickets.sla.calendar.calendar())
    async with sessions() as s:
        return await stats.compute(s, settings, period, scope or Scope(), ADMIN,
                                   now=dataset.at(dataset.NOW))


async def test_changes_reach_the_figures_and_only_their_days_are_rebuilt(
        sessions, db_url, tmp_path):
    settings = settings_for(db_url, tmp_path)
    async with sessions() as s, s.begin():
        await dataset.load(s)
    rollup = Rollup(settings, sessions)
    assert await rollup.refresh() >= 31
    assert await rollup.refresh() == 0  # nothing changed
    before = await figures(sessions, settings)
    assert {u["unit"]: u["tickets"] for u in before["units"]} == {
        "Dinas PU": 2, "Dinsos": 2, None: 2}

    # Staff move ticket 4 to Dinas PU and ticket 2 to waiting (its survey answers, an
    # earlier one dated 25 Nov among them, count on their days again).
    async with sessions() as s, s.begin():
        await s.execute(update(Ticket).where(Ticket.id == 4).values(
            unit="Dinas PU", updated_at=utcnow()))
        await s.execute(update(Ticket).where(Ticket.id == 2).values(
            state="waiting", updated_at=utcnow()))
        await s.execute(insert(SurveyAnswer), [
            {"ticket_id": 2, "respondent": "r:2", "channel": "telegram", "element": e,
             "score": 1, "at": dataset.at("2026-11-25T10:00")} for e in dataset.ALL])
    # Ticket 4: received 16 Nov, resolved 18 Nov, answered 19 Nov; ticket 2: received
    # 6 Nov, events 7 to 11 Nov, answered 12 and 25 Nov.
    rebuilt = await rollup.refresh()
    assert rebuilt == 3 + 8
    after = await figures(sessions, settings)
    assert {u["unit"]: u["tickets"] for u in after["units"]} == {"Dinas PU": 3, "Dinsos": 1,
                                                                None: 2}
    assert after["backlog"]["by_state"] == {"in_progress": 1, "new": 1, "waiting": 1}
    # Respondent r:2 now says 1 everywhere, on 25 Nov: persyaratan 2, 1, 3 -> 2.
    nrr = {e["element"]: e["nrr"] for e in after["satisfaction"]["elements"]}
    assert nrr["persyaratan"] == 2.0 and after["satisfaction"]["respondents"] == 3
    pu = (await figures(sessions, settings, Scope(unit="Dinas PU")))["satisfaction"]
    assert pu["respondents"] == 3


async def test_another_calendar_rebuilds_everything(sessions, db_url, tmp_path):
    office = settings_for(db_url, tmp_path)
    async with sessions() as s, s.begin():
        await dataset.load(s)
    built = await Rollup(office, sessions).refresh()
    hours = (await figures(sessions, office))["response_times"]["first_response"]
    assert hours["median_hours"] == 1.5  # working hours
    around = settings_for(db_url, tmp_path, working_hours=None)
    assert await Rollup(around, sessions).refresh() == built
    plain = (await figures(sessions, around))["response_times"]["first_response"]
    # Every hour counts now: 1, 67 (Fri 15:00 -> Mon 10:00), 46.5, 42 -> median 44.25.
    assert plain["median_hours"] == 44.25
