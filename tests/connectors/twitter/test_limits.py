"""Quota and failures: 429 waits for X's reset, 5xx and network errors back off with
jitter, and /healthz shows what is left."""

from __future__ import annotations

import time

from tests.connectors.twitter.fake_x import FakeX
from tests.connectors.twitter.harness import Harness, eventually


async def test_429_waits_for_reset_then_resumes(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    tid = fake_x.tweet("@pemkot_test antrean BPJS mengular sejak subuh", a)
    reset = int(time.time()) + 2
    fake_x.fail("mentions", 429, headers={"x-rate-limit-reset": str(reset),
                                          "x-rate-limit-remaining": "0"})
    conn = harness.connector(query="BPJS")
    async with harness.running(conn):
        await eventually(lambda: fake_x.calls("mentions", 429))
        await eventually(lambda: conn.health()["quota"]["mentions"]["waiting_because"]
                         is not None)
        quota = conn.health()["quota"]["mentions"]
        assert quota["waiting_because"] == "rate limited by X"
        assert quota["x_remaining"] == 0 and quota["next_allowed_at"] is not None
        await eventually(lambda: fake_x.calls("mentions", 200), what="resumed after reset")
    first_after = fake_x.calls("mentions", 200)[0]
    assert first_after.at >= reset  # nothing was sent before X's reset
    # Search (another X bucket) was not held up meanwhile.
    assert [c for c in fake_x.calls("search", 200) if c.at < reset]
    assert len(fake_x.calls("mentions", 429)) == 1
    assert [r.external_id for r in await harness.reports()] == [tid]


async def test_5xx_burst_backs_off_with_growing_gaps(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    fake_x.tweet("@pemkot_test lampu lalu lintas mati di perempatan", a)
    fake_x.fail("mentions", 500, times=2)
    fake_x.fail("mentions", 503, body="<html><body>Over capacity</body></html>")
    conn = harness.connector(backoff_initial=0.2, backoff_max=5)
    async with harness.running(conn) as running:
        await eventually(lambda: len(fake_x.calls("mentions")) == 2)
        assert running.health()["quota"]["mentions"]["consecutive_failures"] >= 1
        assert running.health()["quota"]["mentions"]["last_error"] == "HTTP 500"
        await eventually(lambda: conn.counts["reports"] == 1, what="recovery")
    calls = fake_x.calls("mentions")
    assert [c.status for c in calls[:4]] == [500, 500, 503, 200]
    gaps = [b.at - a.at for a, b in zip(calls, calls[1:4], strict=False)]
    # Full jitter between half and all of 0.2 * 2^n: the gaps can only grow this way.
    for n, gap in enumerate(gaps):
        assert gap >= 0.2 * 2**n / 2 * 0.95, gaps
    assert conn.health()["quota"]["mentions"]["consecutive_failures"] == 0


async def test_network_errors_back_off_without_crashing(harness: Harness) -> None:
    conn = harness.connector(api_base_url="http://127.0.0.1:9", backoff_initial=0.05,
                             backoff_max=0.2)
    async with harness.running(conn):
        await eventually(lambda: conn.health()["quota"]["mentions"]["consecutive_failures"]
                         >= 3, what="three failed attempts")
        quota = conn.health()["quota"]["mentions"]
        assert "ClientConnectorError" in quota["last_error"]
        assert quota["waiting_because"] in (None, "backing off after errors")


async def test_health_shows_quota_and_next_poll(harness: Harness, fake_x: FakeX) -> None:
    conn = harness.connector(poll_interval=30, budgets={"mentions": {"per_15min": 10,
                                                                     "per_day": 100}})
    async with harness.running(conn):
        await eventually(lambda: "mentions" in conn.last_run)
        health = conn.health()
    quota = health["quota"]["mentions"]
    assert quota["budget_15min_left"] == 9 and quota["budget_day_left"] == 99
    assert quota["x_limit"] == 450 and quota["x_remaining"] == 449
    assert health["next_run_at"]["mentions"] > health["last_run_at"]["mentions"]
    assert health["quota"]["create"]["budget_day_left"] == 100  # the default


async def test_daily_budget_survives_a_restart(harness: Harness, fake_x: FakeX) -> None:
    a = fake_x.user("900000001", "warga1")
    fake_x.tweet("@pemkot_test saluran air mampet", a)
    budget = {"mentions": {"per_day": 3}}
    conn = harness.connector(budgets=budget)
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("mentions")) == 3)
    again = harness.connector(budgets=budget)
    async with harness.running(again):
        await eventually(lambda: "engagement" in again.last_run)
        await eventually(lambda: again.health()["quota"]["mentions"]["waiting_because"]
                         == "daily budget spent")
    assert len(fake_x.calls("mentions")) == 3


async def test_calls_without_a_limit_are_not_kept_or_written_down(
        harness: Harness, fake_x: FakeX) -> None:
    """Every call's time was held for a day and written into the cursor on each commit
    (ever larger through the day), though no limit ever read it."""
    open_ = {"per_15min": None, "per_day": None}
    conn = harness.connector(poll_interval=0.05, budgets={"mentions": open_})
    async with harness.running(conn):
        await eventually(lambda: len(fake_x.calls("mentions")) >= 5, what="five polls")
        dumped = conn.gate.dump()
    assert "mentions" not in dumped
    assert conn.health()["quota"]["mentions"]["budget_day_left"] is None
    assert conn.health()["quota"]["create"]["budget_day_left"] == 100  # still counted
