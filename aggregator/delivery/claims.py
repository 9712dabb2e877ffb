"""Claims on outbox rows: a process takes due rows for a short, renewed lease, so
replicas share the work (SKIP LOCKED on PostgreSQL) and a process that dies frees its
rows within the lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from aggregator.delivery.order import in_order
from aggregator.messages import MessageBody, UnknownKind, parse_body
from storage.models import Outbox, Reporter, Ticket
from storage.types import utcnow

Sessions = async_sessionmaker[AsyncSession]


def _claimable(now: datetime) -> Any:
    return (Outbox.state == "pending", Outbox.next_attempt_at <= now,
            or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now))


async def anything_due(read_sessions: Sessions, sources: list[str], now: datetime) -> bool:
    """Whether a claim would find a row; asked on a read connection, so an empty
    outbox never takes SQLite's one write lock."""
    async with read_sessions() as session:
        found = await session.execute(
            select(Outbox.id).where(Outbox.source.in_(sources), *_claimable(now)).limit(1))
        return found.first() is not None


async def claim(sessions: Sessions, sources: list[str], now: datetime, batch: int,
                lease: float) -> list[tuple[Any, Any, str | None, str | None, MessageBody]]:
    """Claim due rows of `sources`, keeping each recipient's order: a row is taken only
    when every older pending row of its recipient is taken with it, so a failed row
    (waiting for its retry) or one claimed elsewhere holds back the later ones of that
    recipient, and only of that recipient; a dead one holds back none. Returns (row,
    reporter, ticket number, ticket state, parsed body) per claimed row."""
    older = aliased(Outbox)
    blocked = (
        select(older.id)
        .where(older.source == Outbox.source, older.recipient == Outbox.recipient,
               older.state == "pending", older.id < Outbox.id,
               or_(older.next_attempt_at > now, older.claimed_until >= now))
        .exists()
    )
    async with sessions() as session, session.begin():
        candidates = (
            await session.execute(
                select(Outbox, Reporter, Ticket.number, Ticket.state)
                .outerjoin(Reporter, Reporter.id == Outbox.reporter_id)
                .outerjoin(Ticket, Ticket.id == Outbox.ticket_id)
                .where(Outbox.source.in_(sources), *_claimable(now), ~blocked)
                .order_by(Outbox.id)
                .limit(batch)
                .with_for_update(skip_locked=True, of=Outbox)
            )
        ).all()
        if not candidates:
            return []
        rows = await in_order(session, candidates)
        bodies: dict[int, MessageBody] = {}
        for r in rows:
            try:
                bodies[r[0].id] = parse_body(r[0].kind, r[0].payload or {})
            except UnknownKind as exc:  # queued by a newer version? never sendable here
                await session.execute(update(Outbox).where(Outbox.id == r[0].id).values(
                    state="dead", last_error=str(exc)))
        rows = [r for r in rows if r[0].id in bodies]
        if not rows:
            return []
        await session.execute(
            update(Outbox)
            .where(Outbox.id.in_([r[0].id for r in rows]))
            .values(claimed_until=now + timedelta(seconds=lease))
        )
    return [(o, reporter, number, state, bodies[o.id]) for o, reporter, number, state in rows]


async def renew(sessions: Sessions, ids: list[int], lease: float) -> None:
    """Extend the claims still held (not what was delivered or released meanwhile)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Outbox)
            .where(Outbox.id.in_(ids), Outbox.state == "pending",
                   Outbox.claimed_until.is_not(None))
            .values(claimed_until=utcnow() + timedelta(seconds=lease))
        )


async def release(sessions: Sessions, ids: list[int]) -> None:
    if not ids:
        return
    async with sessions() as session, session.begin():
        await session.execute(update(Outbox).where(Outbox.id.in_(ids)).values(claimed_until=None))


async def release_all(sessions: Sessions) -> int:
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Outbox).where(Outbox.state == "pending", Outbox.claimed_until.is_not(None))
            .values(claimed_until=None))
        return int(result.rowcount)  # type: ignore[attr-defined]
