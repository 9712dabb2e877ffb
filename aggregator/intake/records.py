"""A connector's own durable records: what it must remember across restarts beyond
its cursor (a question the bot asked and waits on, a message held until the user
chooses a ticket). One generic table keyed by (connector, kind, key), so a new channel
needs no table and no edit of the core models. Each call is one short transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.intake.errors import guarded
from storage import repo
from storage.models import ConnectorRecord
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    kind: str
    key: str
    data: Mapping[str, Any]
    created_at: datetime


class Records:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], connector: str):
        self.sessions = sessions
        self.connector = connector

    @guarded
    async def put(self, kind: str, key: str, data: Mapping[str, Any]) -> int:
        """Keep a record (a second put of the same kind and key keeps the first);
        returns its id."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                repo.insert_ignore(s, ConnectorRecord, ["connector", "kind", "key"]).values(
                    connector=self.connector, kind=kind, key=key[:256], data=dict(data),
                    created_at=utcnow())
            )
            return (await s.execute(
                select(ConnectorRecord.id).where(*self._where(kind, key[:256]))
            )).scalar_one()

    @guarded
    async def get(self, record_id: int) -> Record | None:
        async with self.sessions() as s:
            row = await s.get(ConnectorRecord, record_id)
        if row is None or row.connector != self.connector:
            return None
        return _record(row)

    @guarded
    async def find(self, kind: str, key: str) -> Record | None:
        async with self.sessions() as s:
            row = (await s.execute(
                select(ConnectorRecord).where(*self._where(kind, key[:256]))
            )).scalar_one_or_none()
        return _record(row) if row is not None else None

    @guarded
    async def update(self, record_id: int,
                     change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Read-modify-write under the row's lock (two updates never lose one)."""
        async with self.sessions() as s, s.begin():
            row = await s.get(ConnectorRecord, record_id, with_for_update=True)
            if row is None or row.connector != self.connector:
                return
            row.data = change(dict(row.data))

    @guarded
    async def delete(self, record_id: int) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(delete(ConnectorRecord).where(
                ConnectorRecord.id == record_id, ConnectorRecord.connector == self.connector))

    @guarded
    async def older_than(self, kind: str, before: datetime, limit: int = 100) -> list[Record]:
        async with self.sessions() as s:
            rows = (await s.execute(
                select(ConnectorRecord)
                .where(ConnectorRecord.connector == self.connector,
                       ConnectorRecord.kind == kind, ConnectorRecord.created_at < before)
                .order_by(ConnectorRecord.id).limit(limit)
            )).scalars().all()
        return [_record(r) for r in rows]

    def _where(self, kind: str, key: str) -> tuple[Any, ...]:
        return (ConnectorRecord.connector == self.connector, ConnectorRecord.kind == kind,
                ConnectorRecord.key == key)


def _record(row: ConnectorRecord) -> Record:
    return Record(row.id, row.kind, row.key, dict(row.data or {}), row.created_at)
