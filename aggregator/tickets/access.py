"""Who sees and changes which tickets (`access` in config.yaml), decided in one place.

- Admins see everything.
- A confidential ticket (whistleblowing, or a reporter asked for it) is seen by members
  of an integrity unit, and by users whose role is in `confidential_roles` when the
  ticket is unassigned or in one of their units.
- Any other ticket: supervisors see all; agents see the tickets of their units and the
  unassigned ones (or all, with `agents_see: all`).
Seeing a ticket is what allows changing it; someone who may not see a ticket gets the
same answer as for a ticket that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, true

from aggregator.domain import Role
from aggregator.sections import AccessSettings
from storage.accounts import Principal
from storage.models import Ticket


def role_of(p: Principal) -> Role:
    return Role[p.role.upper()]


def _integrity(p: Principal, rules: AccessSettings) -> bool:
    return bool(p.units & set(rules.integrity_units))


def can_see(ticket: Ticket, p: Principal, rules: AccessSettings) -> bool:
    role = role_of(p)
    if role >= Role.ADMIN:
        return True
    in_scope = ticket.unit is None or ticket.unit in p.units
    if ticket.confidential:
        return _integrity(p, rules) or (p.role in rules.confidential_roles and in_scope)
    return role >= Role.SUPERVISOR or rules.agents_see == "all" or in_scope


def may_see_confidential(p: Principal, rules: AccessSettings) -> bool:
    """Whether any confidential ticket can be visible to this person (so a filter on
    confidentiality means something to them)."""
    return role_of(p) >= Role.ADMIN or _integrity(p, rules) or p.role in rules.confidential_roles


def visible(p: Principal, rules: AccessSettings, unit: Any = None, confidential: Any = None
            ) -> Any:
    """The same rule as a SQL condition on tickets, for the queue; or on other columns
    holding a ticket's unit and confidentiality (monitoring's figure cells)."""
    unit = Ticket.unit if unit is None else unit
    confidential = Ticket.confidential if confidential is None else confidential
    role = role_of(p)
    if role >= Role.ADMIN:
        return true()
    in_scope = or_(unit.is_(None), unit.in_(sorted(p.units)))
    open_rule = true() if role >= Role.SUPERVISOR or rules.agents_see == "all" else in_scope
    if _integrity(p, rules):
        sealed_rule: Any = true()
    elif p.role in rules.confidential_roles:
        sealed_rule = in_scope
    else:
        sealed_rule = false()
    return or_(and_(confidential.is_(False), open_rule),
               and_(confidential.is_(True), sealed_rule))


def may_move_to(unit: str | None, p: Principal) -> bool:
    """Agents hand tickets only to their own units (or back to unassigned);
    supervisors and admins route anywhere."""
    return role_of(p) >= Role.SUPERVISOR or unit is None or unit in p.units
