"""Secrets in config.yaml as an operator meets them: placeholders refused, values from
the environment taken as written, and never a secret in an error message."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from aggregator.config import ConfigError, parse
from tests.core.helpers import cli_async

TG_TOKEN = "123456:ABCdefGhIJKlmnoPQRstuVWxyz"


def _config(tmp_path: Path, connectors: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"connectors": connectors}))
    return path


async def test_check_config_refuses_the_old_default_secret_without_printing_it(tmp_path):
    config = _config(tmp_path, {"lapor": {
        "type": "webhook", "secret": "${LAPOR_SECRET:-change-me-in-production}"}})
    res = await cli_async(config, "check-config")
    assert res.returncode == 2
    assert "connectors.lapor.secret: is a placeholder" in res.stderr
    assert "change-me" not in res.stderr + res.stdout


@pytest.mark.parametrize("value", ["change-me-in-production", "CHANGEME_CHANGEME_1",
                                   "your-secret-here-please", "xxxxxxxxxxxxxxxxxxxx",
                                   "secretsecretsecret", "example-webhook-secret"])
def test_known_placeholders_are_refused_for_an_enabled_connector(tmp_path, value):
    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"lapor": {"type": "webhook", "secret": value}}},
              base_dir=tmp_path, env={})
    (line,) = err.value.problems
    assert line.startswith("connectors.lapor.secret: is a placeholder")
    assert value not in line


def test_a_disabled_connector_may_keep_its_placeholder(tmp_path):
    s = parse({"connectors": {"lapor": {"type": "webhook", "enabled": "${ON:-false}",
                                        "secret": "change-me-in-production"}}},
              base_dir=tmp_path, env={})
    assert s.connectors["lapor"].enabled is False


def test_missing_secret_of_an_enabled_connector_names_key_and_variable(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"lapor": {"type": "webhook", "enabled": "${ON:-true}",
                                        "secret": "${LAPOR_SECRET}"}}},
              base_dir=tmp_path, env={})
    assert err.value.problems == [
        "connectors.lapor.secret: environment variable LAPOR_SECRET is not set"]


@pytest.mark.parametrize("password", ["12345678", "yes", "0x1F2E3D4C", "1e10", "null",
                                      "~", "[a, b]", "on"])
def test_values_from_the_environment_stay_text(tmp_path, password):
    raw = {"connectors": {
        "surel": {"type": "email",
                  "imap": {"host": "imap.example.id", "username": "aduan",
                           "password": "${EMAIL_PASSWORD}"},
                  "smtp": {"host": "smtp.example.id", "from_address": "aduan@example.id",
                           "password": "${EMAIL_PASSWORD}"}},
        "bot": {"type": "telegram", "token": "${TG}", "webhook_secret": "${TG_SECRET}"}}}
    s = parse(raw, base_dir=tmp_path, env={"EMAIL_PASSWORD": password, "TG": password,
                                           "TG_SECRET": "0123456789abcdefXYZ"})
    surel = s.connectors["surel"]
    assert surel.imap.password.get_secret_value() == password
    assert surel.smtp.password.get_secret_value() == password
    assert s.connectors["bot"].token.get_secret_value() == password
    if len(password) > 3:  # shorter ones occur in any text
        assert password not in repr(surel) and password not in str(surel)


def test_numbers_and_booleans_from_the_environment_still_fill_typed_keys(tmp_path):
    s = parse({"web": {"port": "${PORT}", "token_ttl_days": "${TTL}"},
               "database": {"echo": "${ECHO}"}},
              base_dir=tmp_path, env={"PORT": "8081", "TTL": "30", "ECHO": "no"})
    assert (s.web.port, s.web.token_ttl_days, s.database.echo) == (8081, 30, False)


async def test_no_error_message_repeats_a_secret(tmp_path):
    """Wrong values in secret keys, literal YAML numbers included, of enabled and of
    disabled connectors: check-config names each key and never shows the value."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "database:\n  url: 'postgresql+asyncpg://u:Pw-98765-db@h/db?x=%zz'\n"
        "connectors:\n"
        "  surel:\n    type: email\n    enabled: false\n"
        "    imap: {host: h, username: u, password: 31415926535, port: 'Pw-SECRET-1'}\n"
        "  lapor:\n    type: webhook\n    secret: Pw-short-1\n"
        "    previous_secrets: [Pw-SECRET-prev-2, 271828182845]\n"
        "  bot:\n    type: telegram\n    token: 161803398874\n"
        "    webhook_secret: 'Pw SECRET 3 with spaces'\n"
        "  x:\n    type: twitter\n    bearer_token: [Pw-SECRET-4]\n    username: akun\n")
    res = await cli_async(config, "check-config")
    assert res.returncode == 2
    out = res.stderr + res.stdout
    for key in ("connectors.surel.imap.password", "connectors.lapor.secret",
                "connectors.bot.token", "connectors.bot.webhook_secret",
                "connectors.x.bearer_token", "connectors.lapor.previous_secrets"):
        assert key in out, out
    for secret in ("31415926535", "Pw-", "Pw SECRET", "271828182845", "161803398874"):
        assert secret not in out, out


def test_telegram_webhook_secret_must_be_long_enough(tmp_path):
    base = {"type": "telegram", "token": TG_TOKEN, "mode": "webhook"}
    for bad in ("a", "short_secret_15", "has space in it 12345", "ü" * 20, "x" * 257):
        with pytest.raises(ConfigError) as err:
            parse({"connectors": {"bot": {**base, "webhook_secret": bad}}},
                  base_dir=tmp_path, env={})
        (line,) = err.value.problems
        assert line.startswith("connectors.bot.webhook_secret: must be 16-256 characters")
        assert len(bad) < 4 or bad not in line
    for good in ("Ab3-_9zQ7pLm2Xc8", secrets.token_hex(128)):
        s = parse({"connectors": {"bot": {**base, "webhook_secret": good}}},
                  base_dir=tmp_path, env={})
        assert s.connectors["bot"].webhook_secret.get_secret_value() == good
