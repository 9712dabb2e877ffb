"""The channel watch: one burst detector per channel over every report arriving on it,
whatever ticket it joined.

A ticket's own detector cannot see a flood spread over many tickets: when a service
goes down, hundreds of people report it in their own words, near-duplicate matching
keeps many of them apart, and each ticket has only a few reports. Counted per channel
(email, telegram, twitter, ...) the flood is plain. Reports are counted by their own
times (`sent_at`, else `received_at`), so a backlog replayed after an outage is history
(reports older than the longest window are not counted at all), not a burst now.

Where the verdict lives, and why there: the runtime's `connector_records` table, one
row (connector "virality", kind "channels", key "all") holding a small JSON record:
the report cursor, each channel's detector state and verdict (level, episode level,
reports in the last hour against the expected count, since when at that level), and
the alarms not yet told to staff. It is durable (a restart resumes the learnt
baselines), shared by replicas (the single-instance job locks the row) and needs no
migration; a channel is a handful of numbers, so one row for all of them is small and
one lock keeps the round simple.
The lease and job tables only say who runs a job, not what it learnt.

A change of a channel's level is logged once. An alarm (a channel's episode reaching a
new level) is queued in the record with how many tickets the last hour's reports went
to and the largest one's share; the escalation job tells staff through its targets
(`aggregator/escalation/channels.py`) when the flood is spread over tickets (one viral
ticket is told by its own escalation), and `/metrics` shows every channel's verdict.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.virality.detector import BurstDetector, DetectorSettings
from aggregator.virality.watch import aware
from storage import repo
from storage.models import ConnectorRecord
from storage.models import Report as ReportRow
from storage.types import utcnow

log = logging.getLogger("aggregator.virality")

# A channel carries many tickets: its cold start expects a few reports an hour (an
# agency's quiet channel), never below one, and a flood needs 20 reports in 6 hours.
CHANNEL_SETTINGS = DetectorSettings(prior_rate_per_hour=4.0, floor_rate_per_hour=1.0,
                                    min_count=20.0)
KEY = ("virality", "channels", "all")  # the record's (connector, kind, key)
HISTORY = timedelta(days=7)  # a new record learns from this much of the past
BATCH = 20000  # reports read per round (a long history takes a few rounds)
MAX_ALARMS = 20  # alarms kept while nobody takes them (escalation off)
ALARM_TTL = timedelta(hours=1)  # an alarm older than this is not told any more
CLOCK_SKEW = timedelta(minutes=10)  # a sender's clock ahead of ours (received before sent)


async def run_round(session: AsyncSession, now: datetime | None = None,
                    settings: DetectorSettings = CHANNEL_SETTINGS) -> int:
    """Feed new reports to their channel's detector and tick all; returns how many
    channels changed level."""
    now = now or utcnow()
    row = await _record(session, now)
    data = dict(row.data or {})
    channels: dict[str, dict[str, Any]] = dict(data.get("channels") or {})
    new = (await session.execute(
        select(ReportRow.id, ReportRow.channel,
               func.coalesce(ReportRow.sent_at, ReportRow.received_at))
        .where(ReportRow.id > int(data.get("last_report_id") or 0))
        .order_by(ReportRow.id).limit(BATCH)
    )).all()
    detectors = {name: _detector(entry, settings) for name, entry in channels.items()}
    for _, channel, at in sorted(new, key=lambda r: aware(r[2])):
        det = detectors.setdefault(channel, BurstDetector(settings))
        det.arrival(min(aware(at), now))
    if new:
        data["last_report_id"] = max(r[0] for r in new)
    if len(new) == BATCH:  # catching up on history: no verdict until the present
        data["channels"] = {name: {**channels.get(name, {}), "state": det.to_state()}
                            for name, det in detectors.items()}
        row.data = data
        return 0
    changed = 0
    alarms = list(data.get("alarms") or [])
    for name, det in sorted(detectors.items()):
        d = det.tick(now)
        before = channels.get(name, {})
        verdict = {
            "level": d.level, "episode_level": d.evidence["episode_level"],
            "score": round(d.score, 2), "last_hour": d.evidence["counts"]["60m"],
            "expected_last_hour": round(d.evidence["expected"]["60m"], 2),
            "since": before.get("since") if before.get("level", 0) == d.level
            else now.isoformat(),
            "state": det.to_state(),
        }
        if d.level != before.get("level", 0):
            changed += 1
            log.info("channel %s: level %s -> %s (%g reports in the last hour, "
                     "expected %.1f)", name, before.get("level", 0), d.level,
                     verdict["last_hour"], verdict["expected_last_hour"])
        if d.alarm:
            tickets, top = await _spread(session, name, now)
            alarms.append({"channel": name, "level": d.level, "at": now.isoformat(),
                           "last_hour": verdict["last_hour"],
                           "expected_last_hour": verdict["expected_last_hour"],
                           "tickets": tickets, "top_ticket_share": top})
        channels[name] = verdict
    data["channels"] = channels
    data["alarms"] = alarms[-MAX_ALARMS:]
    if data != row.data:  # most rounds change nothing: no write (SQLite's lock is shared)
        row.data = data  # a new dict: the JSON column sees the change
    return changed


async def _spread(session: AsyncSession, channel: str, now: datetime
                  ) -> tuple[int, float]:
    """Over how many tickets the channel's last hour is spread, and the largest one's
    share: a flood in one ticket is that ticket's burst (its own watch tells it), a
    flood over many is the channel's."""
    at = func.coalesce(ReportRow.sent_at, ReportRow.received_at)
    counts = [n for (n,) in await session.execute(
        select(func.count()).where(
            ReportRow.channel == channel, at >= now - timedelta(hours=1),
            ReportRow.received_at >= now - timedelta(hours=1) - CLOCK_SKEW)
        .group_by(ReportRow.ticket_id))]
    total = sum(counts)
    return len(counts), round(max(counts) / total, 2) if total else 0.0


async def verdicts(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Each channel's verdict without the detector state (for figures and people)."""
    row = await _find(session)
    channels = (row.data or {}).get("channels", {}) if row is not None else {}
    return {name: {k: v for k, v in entry.items() if k != "state"}
            for name, entry in sorted(channels.items())}


async def take_alarms(session: AsyncSession, now: datetime | None = None
                      ) -> list[dict[str, Any]]:
    """The alarms not told yet (fresh ones only), removed from the record under its
    lock: whoever takes them tells staff in the same transaction."""
    now = now or utcnow()
    row = await _find(session, lock=True)
    if row is None or not (row.data or {}).get("alarms"):
        return []
    data = dict(row.data)
    fresh = [a for a in data["alarms"]
             if now - datetime.fromisoformat(a["at"]) <= ALARM_TTL]
    data["alarms"] = []
    row.data = data
    return fresh


async def _find(session: AsyncSession, *, lock: bool = False) -> ConnectorRecord | None:
    stmt = select(ConnectorRecord).where(
        ConnectorRecord.connector == KEY[0], ConnectorRecord.kind == KEY[1],
        ConnectorRecord.key == KEY[2])
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def _record(session: AsyncSession, now: datetime) -> ConnectorRecord:
    """The record, locked; a new one starts its cursor `HISTORY` back."""
    row = await _find(session, lock=True)
    if row is not None:
        return row
    start = (await session.execute(
        select(func.max(ReportRow.id)).where(ReportRow.received_at < now - HISTORY)
    )).scalar_one_or_none() or 0
    await session.execute(repo.insert_ignore(
        session, ConnectorRecord, ["connector", "kind", "key"]).values(
        connector=KEY[0], kind=KEY[1], key=KEY[2], created_at=now,
        data={"last_report_id": int(start), "channels": {}, "alarms": []}))
    found = await _find(session, lock=True)
    assert found is not None
    return found


def _detector(entry: dict[str, Any], settings: DetectorSettings) -> BurstDetector:
    try:
        return BurstDetector.from_state(entry["state"], settings)
    except (ValueError, KeyError, TypeError):
        return BurstDetector(settings)  # settings changed: start again from the prior

