"""The bar: a known set of complaints, replies, state changes and survey answers made
through the webhook, the staff API and the survey form of the running service; then
/api/stats gives the counts, response-time percentiles, SLA shares and IKM they make,
and /metrics counts per connector exactly what was sent."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from aggregator.config import parse
from tests.connectors.webhook.harness import SECRET, Sender, complaint
from tests.connectors.webhook.receiver import receiving
from tests.core.helpers import Api, running, token_for

FIRST_RESPONSE = 6.0  # seconds: replies within it are on time, later ones late
ELEMENTS = ("persyaratan", "prosedur", "waktu", "biaya", "produk", "kompetensi",
            "perilaku", "pengaduan", "sarana")


def settings(db_url, tmp_path, callback_url):
    return parse({
        "database": {"url": db_url}, "web": {"port": 0}, "logging": {"format": "text"},
        "dedup": {"enabled": False},
        "tickets": {"sla": {"normal": "1h", "first_response": {"normal": "6s"}}},
        "connectors": {"lapor": {"type": "webhook", "secret": SECRET,
                                 "callback_url": callback_url}},
    }, base_dir=tmp_path, env={})


def seconds(detail: dict, field: str) -> float:
    return (datetime.fromisoformat(detail[field])
            - datetime.fromisoformat(detail["created_at"])).total_seconds()


async def test_stats_and_metrics_match_what_was_done(db_url, tmp_path):
    async with receiving(SECRET.encode()) as portal, \
            running(settings(db_url, tmp_path, portal.url)) as svc, \
            aiohttp.ClientSession() as http:
        lapor = Sender(http, svc.web_url + "/hooks/lapor")
        numbers = []
        for i in range(1, 7):
            status, body, _ = await lapor.post(complaint(
                i, channel="web-form" if i <= 4 else "sms-1708",
                text=f"Keluhan {i}: pelayanan loket {i} lambat sekali"))
            assert status == 201
            numbers.append(body["ticket"])
        assert (await lapor.post(complaint(1)))[0] == 200  # a retry, stored once
        staff = Api(svc.web_url, await token_for(svc, "kepala", "supervisor"))

        for number in numbers[:3]:  # answered at once: on time
            assert (await staff.call("POST", f"/api/tickets/{number}/replies",
                                     json={"text": "Sedang kami tangani."}))[0] == 202
        await asyncio.sleep(FIRST_RESPONSE + 0.5)
        assert (await staff.call("POST", f"/api/tickets/{numbers[3]}/replies",
                                 json={"text": "Maaf terlambat."}))[0] == 202  # late
        # 5 and 6 get no answer: past their first-response time, so late as well.
        for number in (numbers[0], numbers[1], numbers[3]):
            assert (await staff.call("PATCH", f"/api/tickets/{number}",
                                     json={"state": "resolved"}))[0] == 200

        # The portal hears of each resolution with the reporter's survey link.
        await portal.until(lambda: len([c for c in portal.calls
                                        if c["body"].get("state") == "resolved"]) == 3)
        links = {c["body"]["ticket"]: c["body"]["survey_url"] for c in portal.calls
                 if c["body"].get("state") == "resolved"}
        assert set(links) == {numbers[0], numbers[1], numbers[3]}
        assert all("survey_url" not in c["body"] for c in portal.calls
                   if c["body"].get("state") != "resolved")
        assert all(c["signature_ok"] for c in portal.calls)

        async def answer(number: str, scores: dict[str, int]) -> None:
            url = svc.web_url + urlsplit(links[number]).path
            async with http.get(url) as resp:
                assert resp.status == 200
            async with http.post(url, data={k: str(v) for k, v in scores.items()}) as resp:
                assert resp.status == 200

        await answer(numbers[0], {**dict.fromkeys(ELEMENTS, 4), "persyaratan": 2})
        await answer(numbers[1], dict.fromkeys(ELEMENTS, 3))
        await answer(numbers[1], {"waktu": 4})  # changed their mind: the latest counts

        details = [(await staff.call("GET", f"/api/tickets/{n}"))[1] for n in numbers]
        status, stats = await staff.call("GET", "/api/stats")
        async with http.get(svc.web_url + "/metrics") as resp:
            metrics = await resp.text()

    assert status == 200
    vol = stats["volume"]
    assert (vol["reports"], vol["tickets"]) == (6, 6)
    assert vol["reports_by_channel"] == {"web-form": 4, "sms-1708": 2}
    assert vol["tickets_by_channel"] == {"web-form": 4, "sms-1708": 2}

    # Percentiles of what the tickets themselves say (around the clock: plain time).
    first = [seconds(d, "first_response_at") for d in details if d["first_response_at"]]
    done = [seconds(d, "resolved_at") for d in details if d["resolved_at"]]
    times = stats["response_times"]
    assert times["first_response"]["count"] == 4 and times["resolution"]["count"] == 3
    for got, values in ((times["first_response"], first), (times["resolution"], done)):
        assert abs(got["median_seconds"] - float(np.median(values))) < 0.01
        assert abs(got["p90_seconds"] - float(np.percentile(values, 90))) < 0.01
    assert sorted(first)[-1] > FIRST_RESPONSE > sorted(first)[-2]

    # First response: three on time; one late reply and two never answered are late.
    # Resolution (1 h): three resolved in time, three still open and not yet due.
    assert stats["sla"]["first_response"] == {"met": 3, "breached": 3, "pending": 0,
                                              "share": 0.5}
    assert stats["sla"]["resolution"] == {"met": 3, "breached": 0, "pending": 3,
                                          "share": 1.0}

    # IKM: persyaratan (2 + 3) / 2 = 2.5; waktu (4 + 4) / 2 = 4; the other seven
    # (4 + 3) / 2 = 3.5. (2.5 + 4 + 7 x 3.5) / 9 = 31/9; x 25 = 86.11: B. Two people
    # answered of the three served, and the table asks for all three: a warning.
    sat = stats["satisfaction"]
    assert (sat["ikm"], sat["grade"], sat["respondents"]) == (86.11, "B", 2)
    assert sat["sample"] == {"population": 3, "required": 3, "enough": False}

    counts = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(metrics) for s in f.samples}
    ingested = "aggregator_reports_ingested_total"
    assert counts[(ingested, (("connector", "lapor"), ("result", "new")))] == 6
    assert counts[(ingested, (("connector", "lapor"), ("result", "duplicate")))] == 1
    assert counts[("aggregator_tickets", (("state", "resolved"),))] == 3
    assert counts[("aggregator_connector_state", (("connector", "lapor"),
                                                  ("state", "running")))] == 1
