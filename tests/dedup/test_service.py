"""End to end through the running service: the labelled set posted to the webhook
(the bar), what staff see on a folded ticket, and merge/split through the API and CLI.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from aggregator.config import parse
from aggregator.dedup.evaluate import load, pairwise, to_reports
from connectors.webhook.signing import sign_headers
from storage.types import utcnow
from tests.core.helpers import Api, running, token_for

LABELLED = Path(__file__).resolve().parents[1] / "data" / "dedup_labelled.jsonl"
SECRET = "dedup-test-secret-0123456789"
_TELEGRAM = re.compile(r"^[A-Za-z0-9_]{3,64}$")


def settings_for(db_url: str, tmp_path: Path) -> Any:
    return parse({
        "database": {"url": db_url}, "web": {"port": 0}, "logging": {"format": "text"},
        "connectors": {"lapor": {"type": "webhook", "secret": SECRET}},
    }, base_dir=tmp_path, env={})


def webhook_body(record: dict[str, Any], sent_at: str) -> dict[str, Any]:
    handle = str(record["handle"])
    reporter: dict[str, Any] = {"name": handle}
    if "@" in handle:
        reporter["email"] = handle
    elif _TELEGRAM.match(handle):
        reporter["telegram"] = handle
    body: dict[str, Any] = {"id": record["id"], "text": record["text"],
                            "channel": record["channel"], "created_at": sent_at,
                            "reporter": reporter}
    if record.get("title"):
        body["title"] = record["title"]
    if "lat" in record:
        body["location"] = {"lat": record["lat"], "lon": record["lon"]}
    return body


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """As a portal forwards: a 429 is waited out (Retry-After) and sent again."""
    data = json.dumps(body).encode()
    while True:
        headers = {"Content-Type": "application/json",
                   **sign_headers(SECRET.encode(), data, time.time())}
        async with http.post(url, data=data, headers=headers) as resp:
            if resp.status == 429:
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            assert resp.status == 201, await resp.text()
            return await resp.json()


async def test_labelled_set_through_the_webhook(db_url, tmp_path):
    records = load(LABELLED)
    sent = {r.external_id: r.sent_at for r in to_reports(records, utcnow())}
    tickets: dict[str, str] = {}
    async with running(settings_for(db_url, tmp_path)) as svc, aiohttp.ClientSession() as http:
        url = f"{svc.web_url}/hooks/lapor"
        # In the order they were sent, a few at a time (as a portal forwards them).
        for i in range(0, len(records), 8):
            chunk = records[i : i + 8]
            answers = await asyncio.gather(*(
                post(http, url, webhook_body(r, sent[r["id"]].isoformat())) for r in chunk))
            for r, answer in zip(chunk, answers, strict=True):
                tickets[r["id"]] = answer["ticket"]
        scores = pairwise({r["id"]: r["cluster"] for r in records}, tickets)
        print(scores.line())
        assert scores.precision >= 0.95 and scores.recall >= 0.85, scores.line()

        # Staff see one ticket with every channel's report, and why each was folded.
        agent = await token_for(svc, "ani", "agent")
        number = tickets["c01-01"]
        status, ticket = await Api(svc.web_url, agent).call("GET", f"/api/tickets/{number}")
        assert status == 200
        assert {"twitter", "email", "telegram", "webhook"} <= set(ticket["channels"])
        folded = [e for e in ticket["events"] if e["type"] == "report_added"
                  and e["data"]["reason"] == "near_duplicate"]
        assert folded and all(0 < e["data"]["score"] <= 1 for e in folded)
        assert ticket["report_count"] == len(ticket["reports"]) >= 15


async def test_merge_and_split_through_api_and_cli(db_url, tmp_path):
    settings = settings_for(db_url, tmp_path)
    texts = {
        "q1": "Mesin antrian di RSUD Dr. Soetomo rusak sejak pagi, pasien menumpuk di lobi",
        "q2": "Antrian RSUD Dr. Soetomo kacau, mesin nomor antrian error dari pagi",
        "t1": "Toilet di gedung rawat jalan RSUD Dr. Soetomo kotor dan airnya mati",
        "p1": "Parkir liar di depan IGD RSUD Dr. Soetomo minta uang 10 ribu tanpa karcis",
    }
    async with running(settings) as svc, aiohttp.ClientSession() as http:
        got = {k: await post(http, f"{svc.web_url}/hooks/lapor",
                             {"id": k, "text": v, "reporter": {"email": f"{k}@warga.id"}})
               for k, v in texts.items()}
        assert got["q1"]["ticket"] == got["q2"]["ticket"]
        assert len({got[k]["ticket"] for k in ("q1", "t1", "p1")}) == 3
        agent = Api(svc.web_url, await token_for(svc, "ani", "agent"))
        sup = Api(svc.web_url, await token_for(svc, "sri", "supervisor"))

        path = f"/api/tickets/{got['t1']['ticket']}/merge"
        status, body = await agent.call("POST", path, json={"into": got["q1"]["ticket"]})
        assert status == 403
        status, body = await sup.call("POST", path, json={})
        assert status == 422
        status, body = await sup.call("POST", path, json={"into": got["q1"]["ticket"]})
        assert status == 200, body
        assert body["merged"] == got["t1"]["ticket"] and body["reports_moved"] == 1
        assert body["ticket"]["report_count"] == 3
        status, old = await agent.call("GET", f"/api/tickets/{got['t1']['ticket']}")
        assert old["state"] == "closed"
        assert any(e["type"] == "merged_into" and e["actor"] == "user:sri"
                   for e in old["events"])

        status, body = await sup.call("POST", f"/api/reports/{got['t1']['report_id']}/split")
        assert status == 201, body
        assert body["from"] == got["q1"]["ticket"] and body["ticket"]["report_count"] == 1
        status, body = await sup.call("POST", "/api/reports/999999/split")
        assert status == 404
        status, body = await sup.call("POST", f"/api/reports/{got['p1']['report_id']}/split")
        assert status == 409  # alone on its ticket

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url}, "logging": {"format": "text"}}))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aggregator", "--config", str(config),
                               "tickets", *args], capture_output=True, text=True, timeout=60)

    res = cli("merge", got["p1"]["ticket"], got["q1"]["ticket"])
    assert res.returncode == 0, res.stderr
    assert f"merged {got['p1']['ticket']} into {got['q1']['ticket']}" in res.stdout
    res = cli("split", str(got["p1"]["report_id"]))
    assert res.returncode == 0, res.stderr
    assert f"split from {got['q1']['ticket']} into new ticket" in res.stdout
    async with running(settings) as svc:
        status, ticket = await Api(svc.web_url, await token_for(svc, "adi", "agent")).call(
            "GET", f"/api/tickets/{got['q1']['ticket']}")
    actors = [e["actor"] for e in ticket["events"] if e["type"] in ("merged", "report_split")]
    assert actors[-2:] == [actors[-1]] * 2 and actors[-1].startswith("cli")
