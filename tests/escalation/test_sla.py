"""The SLA clock as staff see it on a ticket: due times in working hours, and the pause
while the ticket waits on the reporter."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.config import parse
from aggregator.domain import Author, Priority, Report, TicketState
from aggregator.tickets.rules import first_response_due, pause_or_resume, sla_due
from storage.models import Ticket
from tests.core.helpers import running

WIB = ZoneInfo("Asia/Jakarta")
SLA = {"normal": "2d", "first_response": {"normal": "4h"},
       "calendar": {"working_hours": "08:00-16:00", "holidays": ["2026-12-25"]}}


def settings(tmp_path, db_url="sqlite+aiosqlite:///x.db", **extra):
    return parse({"database": {"url": db_url}, "web": {"port": 0},
                  "logging": {"format": "text"}, "dedup": {"enabled": False},
                  "tickets": {"sla": SLA}, **extra}, base_dir=tmp_path, env={})


def test_due_times_count_working_hours_only(tmp_path):
    s = settings(tmp_path)
    friday_3pm = datetime(2026, 12, 4, 15, tzinfo=WIB)
    assert first_response_due(s, Priority.NORMAL, friday_3pm) == datetime(2026, 12, 7, 11,
                                                                          tzinfo=WIB)
    # "2 hari kerja": the same time two working days on (over the weekend).
    assert sla_due(s, Priority.NORMAL, friday_3pm) == datetime(2026, 12, 8, 15, tzinfo=WIB)
    # Low priority: 168 h = 7 working days; Christmas (25th) and weekends do not count.
    thursday = datetime(2026, 12, 24, 10, tzinfo=WIB)
    assert sla_due(s, Priority.LOW, thursday) == datetime(2027, 1, 5, 10, tzinfo=WIB)


def test_waiting_on_the_reporter_stops_the_clock(tmp_path):
    s = settings(tmp_path)
    t = Ticket(priority=1, created_at=datetime(2026, 12, 7, 8, tzinfo=WIB),
               sla_due_at=datetime(2026, 12, 9, 8, tzinfo=WIB),
               first_response_due_at=datetime(2026, 12, 7, 12, tzinfo=WIB),
               first_response_at=None, sla_paused_at=None)
    pause_or_resume(s, t, TicketState.NEW, TicketState.WAITING,
                    datetime(2026, 12, 7, 10, tzinfo=WIB))
    pause_or_resume(s, t, TicketState.WAITING, TicketState.IN_PROGRESS,
                    datetime(2026, 12, 8, 10, tzinfo=WIB))  # 8 working hours later
    assert t.sla_paused_at is None
    assert t.sla_due_at == datetime(2026, 12, 9, 16, tzinfo=WIB)
    assert t.first_response_due_at == datetime(2026, 12, 8, 12, tzinfo=WIB)


async def test_new_tickets_carry_both_due_times(db_url, tmp_path):
    async with running(settings(tmp_path, db_url)) as svc:
        (res,) = await svc.ingestor.submit([Report(
            source="web", channel="web", external_id="1", text="Pelayanan lambat",
            author=Author(handle="a"))])
        async with svc.sessions() as s:
            t = await s.get(Ticket, res.ticket_id)
        assert t.first_response_due_at is not None
        assert t.first_response_due_at < t.sla_due_at
        assert t.sla_due_at - t.created_at >= timedelta(days=2)
