"""Telling staff that a whole channel is flooding (the channel watch's alarms,
aggregator/virality/channels.py), through the escalation targets.

Which targets: a channel alarm at level L goes to the targets of the highest escalation
level that a ticket going viral at level L would reach (its triggers hold a
`virality_level` of L or less), so one setting says who hears about "going viral",
for a ticket or for a channel. No such level, no notification (the alarm is still
logged and shown in /metrics). The notice says the channel, how many reports came in
the last hour, over how many tickets, and how many were expected.

A flood that is mostly one ticket (more than CONCENTRATED of the hour's reports) is not
told again here: that ticket's own virality level escalates it, with its number, and a
second notice about the same incident would only be noise.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.delivery.queue import Outgoing, queue
from aggregator.escalation.runner import Policy
from aggregator.messages import StaffNotice
from aggregator.virality.channels import take_alarms

CONCENTRATED = 0.5  # the largest ticket's share of the hour above which it is its burst


def targets_for(policy: Policy, level: int) -> list[str]:
    """Target names of the highest escalation level a viral level `level` reaches."""
    for spec in reversed(policy.levels):
        if any(t.virality_level is not None and t.virality_level <= level
               for t in spec.triggers):
            return [n for n in spec.notify if n in policy.targets]
    return []


def notice_text(alarm: dict) -> tuple[str, str]:
    """Subject and text of one alarm, in the words staff read."""
    channel, level = alarm["channel"], alarm["level"]
    subject = f"[{channel}] Lonjakan laporan level {level}"
    text = (f"{subject}\nKanal {channel} menerima {alarm['last_hour']:g} laporan dalam "
            f"satu jam terakhir, biasanya {alarm['expected_last_hour']:.1f}; "
            f"laporan itu masuk ke {alarm['tickets']} tiket.\n"
            "Periksa apakah ada gangguan layanan yang dilaporkan banyak orang.")
    return subject, text


async def notify_channel_alarms(session: AsyncSession, policy: Policy) -> int:
    """Queue a staff notice for each fresh channel alarm; returns how many were queued."""
    items: list[Outgoing] = []
    for alarm in await take_alarms(session):
        if alarm.get("top_ticket_share", 0.0) > CONCENTRATED:
            continue
        subject, text = notice_text(alarm)
        for name in targets_for(policy, int(alarm["level"])):
            t = policy.targets[name]
            items.append(Outgoing(t.source, StaffNotice(t.address, subject, text),
                                  target=name))
    return await queue(session, items)
