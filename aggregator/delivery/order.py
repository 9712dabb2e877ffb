"""Which of the claimable outbox rows may go now without overtaking an older message
of the same recipient (one claimed by another process, say)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import Outbox


async def in_order(session: AsyncSession, rows: Sequence[Any]) -> list[Any]:
    """Of the candidate rows (id order), those whose recipient has no older pending row
    outside the candidates: one locked by another process's claim in flight, say."""
    top = max(r[0].id for r in rows)
    by_source: dict[str, set[str]] = {}
    for r in rows:
        by_source.setdefault(r[0].source, set()).add(r[0].recipient)
    pending: dict[tuple[str, str], list[int]] = {}
    for source, recipients in by_source.items():
        for chunk in repo.chunks(sorted(recipients)):
            found = await session.execute(
                select(Outbox.recipient, Outbox.id)
                .where(Outbox.source == source, Outbox.recipient.in_(chunk),
                       Outbox.state == "pending", Outbox.id <= top)
                .order_by(Outbox.id)
            )
            for recipient, oid in found:
                pending.setdefault((source, recipient), []).append(oid)
    taken: list[Any] = []
    position: dict[tuple[str, str], int] = {}
    stopped: set[tuple[str, str]] = set()
    for r in rows:
        key = (r[0].source, r[0].recipient)
        if key in stopped:
            continue
        i = position.get(key, 0)
        if pending[key][i] != r[0].id:
            stopped.add(key)  # an older message of this recipient is not ours to send
            continue
        position[key] = i + 1
        taken.append(r)
    return taken
