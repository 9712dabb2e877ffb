"""GET /metrics as Prometheus reads it: parsed with prometheus-client's own parser,
counting what the webhook really received; protected by a token when configured."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.config import ConfigError, parse
from storage.db import is_sqlite
from tests.connectors.webhook.harness import SECRET, Sender, complaint
from tests.core.helpers import Api, running, token_for

TOKEN = "scrape-9f8e7d6c5b4a3921"


def settings(db_url, tmp_path, **monitoring):
    return parse({
        "database": {"url": db_url}, "web": {"port": 0}, "logging": {"format": "text"},
        "dedup": {"enabled": False}, "monitoring": monitoring,
        "connectors": {"lapor": {"type": "webhook", "secret": SECRET},
                       "sms": {"type": "webhook", "secret": SECRET}},
    }, base_dir=tmp_path, env={})


async def scrape(url: str, token: str | None = None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics",
                                                         headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_what_each_connector_ingested(db_url, tmp_path):
    async with running(settings(db_url, tmp_path)) as svc, aiohttp.ClientSession() as http:
        lapor = Sender(http, svc.web_url + "/hooks/lapor")
        sms = Sender(http, svc.web_url + "/hooks/sms")
        for i in range(5):
            assert (await lapor.post(complaint(i)))[0] == 201
        assert (await lapor.post(complaint(0)))[0] == 200  # a retry: stored once
        for i in range(2):
            assert (await sms.post(complaint(100 + i, channel="sms-1708")))[0] == 201
        api = Api(svc.web_url, await token_for(svc, "kepala", "supervisor"))
        _, queue = await api.call("GET", "/api/tickets")
        await api.call("PATCH", f"/api/tickets/{queue['tickets'][0]['number']}",
                       json={"state": "in_progress"})

        status, ctype, text = await scrape(svc.web_url)
    assert status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype
    got = samples(text)
    c = "aggregator_reports_ingested_total"
    assert got[(c, (("connector", "lapor"), ("result", "new")))] == 5
    assert got[(c, (("connector", "lapor"), ("result", "duplicate")))] == 1
    assert got[(c, (("connector", "sms"), ("result", "new")))] == 2
    assert got[("aggregator_ingest_latency_seconds_count", (("connector", "lapor"),))] == 6
    assert got[("aggregator_connector_state", (("connector", "lapor"),
                                               ("state", "running")))] == 1
    assert got[("aggregator_connector_state", (("connector", "sms"),
                                               ("state", "backoff")))] == 0
    assert got[("aggregator_connector_restarts_total", (("connector", "lapor"),))] == 0
    assert got[("aggregator_connector_errors_total", (("connector", "sms"),))] == 0
    assert got[("aggregator_tickets", (("state", "new"),))] == 6
    assert got[("aggregator_tickets", (("state", "in_progress"),))] == 1
    assert ("aggregator_outbox_messages", (("state", "dead"),)) in got
    assert got[("aggregator_escalations_total", ())] == 0
    assert got[("aggregator_database_up", ())] == 1
    assert not any(name.endswith("_created") for name, _ in got)
    if is_sqlite(db_url):  # SQLite's own memory, beside Python's, for RSS to add up
        assert got[("aggregator_sqlite_heap_bytes", (("part", "page_cache"),))] > 0
        assert got[("aggregator_sqlite_heap_bytes", (("part", "other"),))] > 0


async def test_metrics_token_or_off(db_url, tmp_path):
    async with running(settings(db_url, tmp_path, metrics={"token": TOKEN})) as svc:
        assert (await scrape(svc.web_url))[0] == 401
        assert (await scrape(svc.web_url, "wrong-token-0000000000"))[0] == 401
        status, _, text = await scrape(svc.web_url, TOKEN)
        assert status == 200 and "aggregator_database_up 1.0" in text
    async with running(settings(db_url, tmp_path, metrics={"enabled": False})) as svc:
        assert (await scrape(svc.web_url))[0] == 404


def test_metrics_token_must_be_a_real_secret(tmp_path):
    for token, says in (("short", "at least 16 characters"),
                        ("change-me-in-production", "placeholder")):
        with pytest.raises(ConfigError) as refused:
            parse({"monitoring": {"metrics": {"token": token}}}, base_dir=tmp_path, env={})
        assert refused.value.problems == [
            next(p for p in refused.value.problems if p.startswith("monitoring.metrics.token"))]
        assert says in refused.value.problems[0] and token not in refused.value.problems[0]
    unset = parse({"monitoring": {"metrics": {"token": "${METRICS_TOKEN:-}"}}},
                  base_dir=tmp_path, env={})
    assert unset.monitoring.metrics.token is None
