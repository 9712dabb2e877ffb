"""The README quick start on a fresh machine: the bundled config.yaml and no
environment at all. It must start, and must not accept a secret anyone could know."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from connectors.webhook.signing import sign_headers
from tests.core.daemon import Daemon, free_port

REPO = Path(__file__).resolve().parents[2]
OURS = ("AGGREGATOR_", "LAPOR_", "EMAIL_", "TELEGRAM_", "X_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", **extra}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def post(url: str, secret: str, i: int) -> int:
    body = json.dumps({"id": f"qs-{i}", "text": "Lampu jalan mati di gang mawar"}).encode()
    headers = {"Content-Type": "application/json",
               **sign_headers(secret.encode(), body, time.time())}
    async with aiohttp.ClientSession() as http, \
            http.post(f"{url}/hooks/lapor", data=body, headers=headers) as resp:
        return resp.status


async def test_bundled_config_starts_with_a_generated_secret(tmp_path):
    config = tmp_path / "config.yaml"
    shutil.copyfile(REPO / "config.yaml", config)
    port = free_port()
    check = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "aggregator", "--config", str(config),
                         "check-config"], env=clean_env(), capture_output=True, text=True,
        timeout=60)
    assert check.returncode == 0, check.stderr
    assert not (tmp_path / "data").exists()  # checking writes nothing

    daemon = Daemon(config, port)
    daemon.env = clean_env(AGGREGATOR_PORT=str(port))
    await daemon.start()
    try:
        secret_file = tmp_path / "data" / "secrets" / "lapor.secret"
        secret = secret_file.read_text().strip()
        assert len(secret) >= 32
        assert mode(secret_file) == 0o600
        assert mode(tmp_path / "data") == 0o700 and mode(secret_file.parent) == 0o700
        assert await post(daemon.url, secret, 1) == 201
        assert await post(daemon.url, "change-me-in-production", 2) == 401
    finally:
        code, _ = await daemon.terminate()
    assert code == 0
    log = daemon.log()
    assert log.count("generated a webhook secret") == 1
    assert str(secret_file) in log and "openssl dgst -sha256 -hmac" in log
    assert secret not in log

    daemon = Daemon(config, port)  # a restart keeps the same secret, said once only
    daemon.env = clean_env(AGGREGATOR_PORT=str(port))
    await daemon.start()
    try:
        assert secret_file.read_text().strip() == secret
        assert await post(daemon.url, secret, 3) == 201
    finally:
        await daemon.terminate()
    assert daemon.log().count("generated a webhook secret") == 1


def test_run_refuses_an_explicit_placeholder(tmp_path):
    config = tmp_path / "config.yaml"
    text = (REPO / "config.yaml").read_text()
    config.write_text(text.replace("${LAPOR_SECRET:-generate}",
                                   "${LAPOR_SECRET:-change-me-in-production}"))
    res = subprocess.run([sys.executable, "-m", "aggregator", "--config", str(config), "run"],
                         env=clean_env(AGGREGATOR_PORT=str(free_port())),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "connectors.lapor.secret: is a placeholder" in res.stderr
    assert "change-me" not in res.stderr
    assert not (tmp_path / "data").exists()


def test_dockerfile_does_not_listen_on_every_interface_by_default():
    env_lines = [line for line in (REPO / "Dockerfile").read_text().splitlines()
                 if not line.lstrip().startswith("#")]
    assert not any("AGGREGATOR_HOST=0.0.0.0" in line for line in env_lines)
