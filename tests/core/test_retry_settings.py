"""`retry` in config.yaml: bad waits are refused naming their key, and the configured
waits are the ones the service keeps (a crashed connector, a failed delivery)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from aggregator.config import ConfigError, load
from aggregator.domain import Author, Report
from aggregator.intake.plugins import register
from aggregator.intake.port import Connector
from aggregator.messages import OutboundMessage, SendResult
from tests.core.helpers import Api, cli_async, running, service_settings, token_for


class CrashesOnce(Connector):
    """Crashes at once; counts its starts."""

    starts = 0

    async def run(self) -> None:
        type(self).starts += 1
        raise ConnectionError("peer went away")


class Unreachable(Connector):
    """A channel whose every send fails (its server is down)."""

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def send(self, message: OutboundMessage) -> SendResult:
        raise ConnectionError("server unreachable")


register("test-crashes-once", CrashesOnce)
register("test-unreachable", Unreachable)


async def test_bad_waits_are_refused_naming_the_key(tmp_path):
    conf = tmp_path / "config.yaml"
    conf.write_text(yaml.safe_dump({"retry": {
        "restart": {"initial": "soon", "max": "2h"},
        "delivery": {"initial": "10m", "max": "5m", "max_attempts": 0},
    }}))
    with pytest.raises(ConfigError) as err:
        load(conf, env={})
    text = "\n".join(err.value.problems)
    assert "retry.restart.initial: 'soon' is not a duration like 15m, 4h or 3d" in text
    assert "retry.restart.max: at most 1h" in text
    assert "retry.delivery.max: must be at least `initial` (10m)" in text
    assert "retry.delivery.max_attempts: Input should be greater than or equal to 1" in text

    # A larger `initial` alone needs a larger `max`: the message says which key.
    conf.write_text(yaml.safe_dump({"retry": {"restart": {"initial": "5m"}}}))
    result = await cli_async(conf, "check-config")
    assert result.returncode == 2
    assert "retry.restart.max: must be at least `initial` (5m)" in result.stderr


async def test_a_crashed_connector_waits_the_configured_restart_backoff(db_url, tmp_path):
    # The default (1 s at first) would restart it within a second.
    settings = service_settings(db_url, tmp_path, retry={"restart": {"initial": "30m",
                                                                       "max": "1h"}},
                                connectors={"broken": {"type": "test-crashes-once"}})
    async with running(settings) as svc:
        await asyncio.sleep(1.5)
        _, health = await Api(svc.web_url, None).call("GET", "/healthz")
    assert CrashesOnce.starts == 1
    broken = health["connectors"]["broken"]
    assert broken["restarts"] == 1 and "peer went away" in broken["last_error"]


async def test_a_failed_delivery_waits_the_configured_backoff(db_url, tmp_path):
    settings = service_settings(db_url, tmp_path, retry={"delivery": {"initial": "1h",
                                                                        "max": "2h"}},
                                connectors={"chan": {"type": "test-unreachable"}})
    async with running(settings) as svc:
        await svc.ingestor.submit([Report(
            source="chan", channel="chan", external_id="m1", text="Lampu jalan mati",
            author=Author(handle="u1"), ack=True)])
        api = Api(svc.web_url, await token_for(svc, "spv", "supervisor"))
        for _ in range(100):
            _, body = await api.call("GET", "/api/outbox?state=pending")
            failed = [m for m in body["messages"] if m["attempts"] >= 1]
            if failed:
                break
            await asyncio.sleep(0.1)
    (message,) = failed
    assert message["attempts"] == 1 and "unreachable" in message["last_error"]
    # Full jitter: the first wait is between half and all of `initial`.
    wait = datetime.fromisoformat(message["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(minutes=29) < wait <= timedelta(hours=1)
