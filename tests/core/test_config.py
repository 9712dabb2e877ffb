"""An operator's view of config.yaml: errors name the key, secrets come from the env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.config import ConfigError, load, parse
from tests.core.helpers import cli_async

REPO = Path(__file__).resolve().parents[2]


def test_bundled_config_is_valid(monkeypatch):
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    settings = load(REPO / "config.yaml", env={})
    assert settings.tickets.prefix == "ADU"
    assert settings.database.url.startswith("sqlite+aiosqlite:///")
    # Relative SQLite paths resolve against the config's folder, not the cwd.
    assert str(REPO / "data" / "aggregator.db") in settings.database.url
    assert "lapor" in settings.connectors


def test_every_problem_is_one_line_naming_its_key(tmp_path):
    bad = {
        "database": {"url": "mysql://x"},
        "web": {"port": "eighty", "colour": "blue"},
        "tickets": {"prefix": "adu"},
        "connectors": {
            "lapor": {"type": "webhook", "secret": "${LAPOR_SECRET}"},
            "fax": {"type": "fax-machine"},
        },
    }
    with pytest.raises(ConfigError) as err:
        parse(bad, base_dir=tmp_path, env={})
    text = "\n".join(err.value.problems)
    assert "database.url: only sqlite" in text
    assert "web.port: " in text
    assert "web.colour: unknown key" in text
    assert "tickets.prefix: " in text
    assert "connectors.lapor.secret: environment variable LAPOR_SECRET is not set" in text
    assert "connectors.fax.type: unknown connector type 'fax-machine'" in text


def test_env_substitution_with_defaults_and_types(tmp_path):
    raw = {"web": {"port": "${PORT:-9000}", "host": "${HOST}"}}
    s = parse(raw, base_dir=tmp_path, env={"HOST": "0.0.0.0"})
    assert s.web.port == 9000 and s.web.host == "0.0.0.0"
    s = parse(raw, base_dir=tmp_path, env={"HOST": "h", "PORT": "81"})
    assert s.web.port == 81


def test_disabled_connector_may_lack_its_secret(tmp_path):
    raw = {"connectors": {"lapor": {"type": "webhook", "enabled": False,
                                    "secret": "${LAPOR_SECRET}"}}}
    s = parse(raw, base_dir=tmp_path, env={})
    assert s.connectors["lapor"].enabled is False


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_bundled_config_checks_ok_from_a_real_process(tmp_path):
    ok = _cli("--config", str(REPO / "config.yaml"), "check-config", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout


async def test_check_config_exit_codes(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("web:\n  port: -1\nconnectors:\n  mail:\n    type: webhook\n"
                      "    secret: 0123456789abcdef0123\n    imap: {port: 1}\n")
    res = await cli_async(broken, "check-config")
    assert res.returncode == 2
    assert "web.port:" in res.stderr
    assert "connectors.mail.imap: unknown key" in res.stderr
    missing = await cli_async(tmp_path / "nope.yaml", "check-config")
    assert missing.returncode == 2 and "file not found" in missing.stderr
