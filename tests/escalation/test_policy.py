"""The escalation policy on facts: which level, and why in words staff understand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.domain import Priority
from aggregator.escalation.policy import Facts, Level, Trigger, evaluate, normal_word

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
LEVELS = [
    Level("piket", (Trigger(virality_level=1), Trigger(reports=10, within=timedelta(hours=1)),
                    Trigger(keywords=("meninggal", "viral")),
                    Trigger(first_response_due_within=timedelta(minutes=30))),
          priority=Priority.HIGH, notify=("ops",), repeat=timedelta(minutes=30)),
    Level("kepala unit", (Trigger(virality_level=2), Trigger(resolution_breached=True))),
]


def facts(**kw) -> Facts:
    return Facts(now=NOW, **kw)


def test_quiet_tickets_stay_at_level_zero():
    assert evaluate(LEVELS, facts(report_times=[NOW - timedelta(minutes=m)
                                                for m in (1, 5, 9)])).level == 0
    old_burst = [NOW - timedelta(days=3, minutes=m) for m in range(20)]
    assert evaluate(LEVELS, facts(report_times=old_burst)).level == 0


def test_each_trigger_says_why():
    burst = [NOW - timedelta(minutes=m) for m in range(12)]
    v = evaluate(LEVELS, facts(report_times=burst))
    assert (v.level, v.reasons) == (1, ["12 reports within 60 min"])
    v = evaluate(LEVELS, facts(keywords_seen=frozenset({normal_word("Meninggal")})))
    assert v.level == 1 and v.reasons == ["watch words: meninggal"]
    v = evaluate(LEVELS, facts(first_response_due=NOW + timedelta(minutes=20)))
    assert v.reasons == ["first response due within 20 min"]
    v = evaluate(LEVELS, facts(first_response_due=NOW + timedelta(minutes=20),
                               first_response_at=NOW - timedelta(minutes=5)))
    assert v.level == 0  # already answered


def test_the_highest_level_reached_wins():
    v = evaluate(LEVELS, facts(virality_level=2))
    assert v.level == 2 and v.reasons == ["going viral (level 2)"]
    v = evaluate(LEVELS, facts(resolution_due=NOW - timedelta(hours=1)))
    assert (v.level, v.reasons) == (2, ["resolution deadline passed"])
    v = evaluate(LEVELS, facts(resolution_due=NOW - timedelta(hours=1),
                               resolved_at=NOW - timedelta(hours=2)))
    assert v.level == 0
