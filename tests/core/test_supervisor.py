"""One failing connector never stops the others."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import func, select

from aggregator.domain import Author, Report
from aggregator.intake.plugins import register
from aggregator.intake.port import Connector
from aggregator.runtime.service import Service
from storage.models import Report as ReportRow
from tests.core.helpers import Api, service_settings


class Crashy(Connector):
    """Crashes shortly after every start, as a connector with a broken peer would."""

    starts = 0

    async def run(self) -> None:
        type(self).starts += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("peer went away")


class Steady(Connector):
    """Reports one complaint every few milliseconds, forever."""

    async def run(self) -> None:
        for i in itertools.count():
            await self.ctx.ingest([Report(
                source=self.name, channel="test", external_id=f"s{i}",
                text=f"keluhan {i}", author=Author(handle="warga"))], cursor={"i": i})
            await asyncio.sleep(0.005)


register("test-crashy", Crashy)
register("test-steady", Steady)


async def test_crashing_connector_restarts_while_healthy_one_goes_on(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path, connectors={
        "broken": {"type": "test-crashy"}, "good": {"type": "test-steady"}})
    svc = Service(settings)
    svc.supervisor.base_delay, svc.supervisor.max_delay = 0.02, 0.1
    await svc.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        stored = 0
        while loop.time() < deadline and (Crashy.starts < 4 or stored < 20):
            await asyncio.sleep(0.1)
            async with svc.sessions() as s:
                stored = (await s.execute(select(func.count()).select_from(ReportRow))
                          ).scalar_one()
        _, health = await Api(svc.web_url, None).call("GET", "/healthz")
    finally:
        await svc.stop()
    assert Crashy.starts >= 4
    broken = health["connectors"]["broken"]
    assert broken["restarts"] >= 2 and "peer went away" in broken["last_error"]
    assert health["connectors"]["good"]["state"] == "running"
    assert health["connectors"]["good"]["restarts"] == 0
    assert stored >= 20
