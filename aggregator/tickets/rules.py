"""Small pure rules about tickets that intake and staff actions share."""

from __future__ import annotations

from datetime import datetime

from aggregator.config import Settings
from aggregator.domain import Priority, Report, TicketState
from storage.models import Ticket

TITLE_MAX = 120


def sla_due(settings: Settings, priority: Priority, start: datetime) -> datetime:
    """When a ticket of this priority opened at `start` must be resolved (working time)."""
    return settings.tickets.sla.targets.resolution_due(priority, start)


def first_response_due(settings: Settings, priority: Priority, start: datetime) -> datetime:
    return settings.tickets.sla.targets.first_response_due(priority, start)


def make_title(report: Report) -> str:
    text = (report.title or "").strip() or report.text.strip()
    first = " ".join(text.split())
    if len(first) > TITLE_MAX:
        first = first[: TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"
    return first or "(tanpa teks)"


def pause_or_resume(settings: Settings, ticket: Ticket, before: TicketState, after: TicketState,
                    now: datetime) -> None:
    """The SLA clock stops while a ticket waits on the reporter; when it leaves that
    state its due times move on by the working time spent waiting."""
    if after == TicketState.WAITING and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif before == TicketState.WAITING and ticket.sla_paused_at is not None:
        targets = settings.tickets.sla.targets
        ticket.sla_due_at = targets.resumed(ticket.sla_due_at, ticket.sla_paused_at, now)
        if ticket.first_response_due_at is not None and ticket.first_response_at is None:
            ticket.first_response_due_at = targets.resumed(
                ticket.first_response_due_at, ticket.sla_paused_at, now)
        ticket.sla_paused_at = None


def reprioritised(settings: Settings, ticket: Ticket, priority: Priority) -> None:
    """Due times follow the new priority, counted from when the ticket opened."""
    ticket.priority = int(priority)
    ticket.sla_due_at = sla_due(settings, priority, ticket.created_at)
    ticket.first_response_due_at = first_response_due(settings, priority, ticket.created_at)
