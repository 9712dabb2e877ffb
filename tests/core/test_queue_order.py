"""One queue order everywhere: the API (page by page) and the CLI list tickets most
escalated, highest priority and nearest SLA due first, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from datetime import timedelta

from aggregator.domain import Author, Report
from storage.models import Ticket
from storage.types import utcnow
from tests.core.helpers import Api, cli_async, running, service_settings, token_for


async def test_api_pages_and_cli_share_one_order(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path)
    (tmp_path / "config.yaml").write_text(json.dumps({
        "database": {"url": db_url}, "logging": {"format": "text"}}))
    async with running(settings) as service:
        results = await service.ingestor.submit([
            Report(source="web", channel="web", external_id=str(i), text=f"aduan nomor {i}",
                   author=Author(handle=f"u{i}"))
            for i in range(7)
        ])
        now = utcnow()
        shape = [(0, 1, 5), (2, 1, 9), (0, 3, 8), (0, 1, 1), (2, 1, 3), (0, 1, 1), (1, 0, 2)]
        async with service.sessions() as s, s.begin():
            for res, (esc, prio, hours) in zip(results, shape, strict=True):
                t = await s.get(Ticket, res.ticket_id)
                t.escalation_level, t.priority = esc, prio
                t.sla_due_at = now + timedelta(hours=hours)
        expected = [r.ticket_number for r, _ in sorted(
            zip(results, shape, strict=True),
            key=lambda p: (-p[1][0], -p[1][1], p[1][2], p[0].ticket_id))]
        api = Api(service.web_url, await token_for(service, "sri", "agent"))
        seen, cursor = [], None
        while True:
            path = "/api/tickets?limit=3" + (f"&cursor={cursor}" if cursor else "")
            status, page = await api.call("GET", path)
            assert status == 200
            seen += [t["number"] for t in page["tickets"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected
    out = await cli_async(tmp_path / "config.yaml", "tickets", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert [t["number"] for t in json.loads(out.stdout)] == expected
