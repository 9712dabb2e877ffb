"""Which tickets a listing counts: those the principal may see (access rules), of the
chosen unit, that came in through the chosen channel (their first report's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aggregator.monitoring.period import Scope
from aggregator.sections import AccessSettings
from aggregator.tickets import access
from storage.accounts import Principal
from storage.models import Report, Ticket


def origin_channel() -> Any:
    """The channel of the ticket's first report: where the ticket came in."""
    return (select(Report.channel).where(Report.ticket_id == Ticket.id)
            .order_by(Report.id).limit(1).correlate(Ticket).scalar_subquery())


def ticket_conditions(principal: Principal, rules: AccessSettings, scope: Scope
                      ) -> list[Any]:
    """Conditions on `Ticket`: tickets the principal may see, not merged into another,
    of the scope's unit, that came in through the scope's channel."""
    conds: list[Any] = [access.visible(principal, rules), Ticket.merged_into_id.is_(None)]
    if scope.unit:
        conds.append(Ticket.unit == scope.unit)
    if scope.channel:
        conds.append(origin_channel() == scope.channel)
    return conds
