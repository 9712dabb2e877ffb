"""Staff accounts over their whole life: tokens expire and can be listed and revoked,
users can be disabled, re-enabled, given another role or password, by CLI and API;
passwords are checked with throttling and re-hashed when their parameters are old."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select, update

from storage import accounts
from storage.db import create_engine, session_factory
from storage.models import ApiToken, User
from storage.types import utcnow
from tests.core.helpers import Api, cli_async, running, service_settings, token_for


def legacy_hash(password: str) -> str:
    """A hash as the first release wrote it (scrypt N=2^14, no parameters stored)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


async def test_tokens_expire(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path, web={"port": 0,
                                                                "token_ttl_days": 7})) as svc:
        token = await token_for(svc, "ani", "agent")
        api = Api(svc.web_url, token)
        assert (await api.call("GET", "/api/tickets"))[0] == 200
        _, listed = await api.call("GET", "/api/tokens")
        (info,) = listed["tokens"]
        assert info["state"] == "active" and info["user"] == "ani"
        async with svc.sessions() as s, s.begin():
            row = (await s.execute(select(ApiToken))).scalar_one()
            # token_for made it with the library default; the service's own default:
            created = await accounts.create_token(s, "ani", "web", ttl_days=7)
            assert created.startswith("adu_")
            row.expires_at = utcnow() - timedelta(seconds=1)
        status, body = await api.call("GET", "/api/tickets")
        assert status == 401 and body["error"] == "unauthorized"
        # A token from before expiry existed (expires_at NULL) lives token_ttl_days.
        async with svc.sessions() as s, s.begin():
            await s.execute(update(ApiToken).values(
                expires_at=None, created_at=utcnow() - timedelta(days=8)))
        assert (await Api(svc.web_url, created).call("GET", "/api/tickets"))[0] == 401
        async with svc.sessions() as s, s.begin():
            await s.execute(update(ApiToken).values(created_at=utcnow() - timedelta(days=6)))
        assert (await Api(svc.web_url, created).call("GET", "/api/tickets"))[0] == 200


async def test_cli_manages_users_and_tokens(db_url, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": db_url},
                                      "web": {"token_ttl_days": 30}}))
    assert (await cli_async(config, "users", "add", "root", "--role", "admin")).returncode == 0
    assert (await cli_async(config, "users", "add", "ani")).returncode == 0
    ani = (await cli_async(config, "tokens", "create", "ani")).stdout.strip()
    root = (await cli_async(config, "tokens", "create", "root", "--label", "ops",
                            "--ttl-days", "2")).stdout.strip()
    assert ani.startswith("adu_") and root.startswith("adu_")

    listed = await cli_async(config, "tokens", "list")
    assert listed.returncode == 0 and ani not in listed.stdout and root not in listed.stdout
    lines = listed.stdout.splitlines()[1:]
    assert [line.split()[1:4] for line in lines] == [["ani", "cli", "active"],
                                                     ["root", "ops", "active"]]
    only = await cli_async(config, "tokens", "list", "--user", "ani")
    assert [line.split()[1] for line in only.stdout.splitlines()[1:]] == ["ani"]
    assert (await cli_async(config, "tokens", "list", "--user", "nobody")).returncode == 1

    async with running(service_settings(db_url, tmp_path)) as svc:
        api = Api(svc.web_url, ani)
        assert (await api.call("GET", "/api/tickets"))[0] == 200
        assert (await cli_async(config, "users", "disable", "ani")).returncode == 0
        assert (await api.call("GET", "/api/tickets"))[0] == 401
        users = await cli_async(config, "users", "list")
        assert [line.split() for line in users.stdout.splitlines()] == [
            ["ani", "agent", "disabled"], ["root", "admin", "active"]]
        assert (await cli_async(config, "users", "enable", "ani")).returncode == 0
        assert (await api.call("GET", "/api/tickets"))[0] == 200
        assert (await api.call("GET", "/api/users"))[0] == 403
        assert (await cli_async(config, "users", "role", "ani", "admin")).returncode == 0
        assert (await api.call("GET", "/api/users"))[0] == 200
        ani_id = lines[0].split()[0]
        revoked = await cli_async(config, "tokens", "revoke", ani_id)
        assert revoked.returncode == 0, revoked.stderr
        assert (await api.call("GET", "/api/tickets"))[0] == 401
        assert (await cli_async(config, "tokens", "revoke", "999")).returncode == 1
        listed = await cli_async(config, "tokens", "list", "--user", "ani")
        assert listed.stdout.splitlines()[1].split()[3] == "revoked"

    res = await cli_async(config, "users", "passwd", "ani", "--password-stdin",
                          stdin="kata-sandi-baru\n")
    assert res.returncode == 0, res.stderr
    short = await cli_async(config, "users", "passwd", "ani", "--password-stdin", stdin="abc\n")
    assert short.returncode == 1 and "password must have" in short.stderr
    # The last admin cannot lock everyone out.
    assert (await cli_async(config, "users", "role", "ani", "agent")).returncode == 0
    last = await cli_async(config, "users", "disable", "root")
    assert last.returncode == 1 and "last active admin" in last.stderr


async def test_admin_api_for_users_and_tokens(db_url, tmp_path):
    async with running(service_settings(db_url, tmp_path)) as svc:
        admin = Api(svc.web_url, await token_for(svc, "root", "admin"))
        ani_token = await token_for(svc, "ani", "agent")
        ani = Api(svc.web_url, ani_token)
        budi = Api(svc.web_url, await token_for(svc, "budi", "agent"))

        _, mine = await ani.call("GET", "/api/tokens")
        assert [t["user"] for t in mine["tokens"]] == ["ani"]
        assert "adu_" not in str(mine)
        assert (await ani.call("GET", "/api/tokens?user=budi"))[0] == 403
        _, every = await admin.call("GET", "/api/tokens")
        assert sorted(t["user"] for t in every["tokens"]) == ["ani", "budi", "root"]
        _, budis = await admin.call("GET", "/api/tokens?user=budi")
        (budi_token,) = budis["tokens"]

        # Someone else's token looks like a missing one.
        assert (await ani.call("DELETE", f"/api/tokens/{budi_token['id']}"))[0] == 404
        assert (await ani.call("DELETE", "/api/tokens/99999999999999999999"))[0] == 404
        assert (await budi.call("GET", "/api/tickets"))[0] == 200
        assert (await budi.call("DELETE", f"/api/tokens/{budi_token['id']}")) == (
            200, {"revoked": budi_token["id"]})
        assert (await budi.call("GET", "/api/tickets"))[0] == 401
        ani_id = mine["tokens"][0]["id"]
        assert (await admin.call("DELETE", f"/api/tokens/{ani_id}"))[0] == 200
        assert (await ani.call("GET", "/api/tickets"))[0] == 401
        _, after = await admin.call("GET", "/api/tokens?user=ani")
        assert after["tokens"][0]["state"] == "revoked"

        status, body = await admin.call("PATCH", "/api/users/budi",
                                        json={"role": "supervisor", "disabled": True})
        assert status == 200 and body["role"] == "supervisor" and body["disabled"] is True
        status, body = await admin.call("PATCH", "/api/users/budi",
                                        json={"password": "kata-sandi-budi"})
        assert status == 200 and body["has_password"] is True
        assert (await admin.call("PATCH", "/api/users/nobody", json={"role": "agent"}))[0] == 404
        status, body = await admin.call("PATCH", "/api/users/budi", json={"role": "boss"})
        assert status == 422 and "role must be one of" in body["detail"]
        status, body = await admin.call("PATCH", "/api/users/root", json={"disabled": True})
        assert status == 409 and "last active admin" in body["detail"]
        status, _ = await admin.call("PATCH", "/api/users/root", json={"role": "agent"})
        assert status == 409
        assert (await ani.call("PATCH", "/api/users/budi", json={"disabled": False}))[0] == 401
        _, users = await admin.call("GET", "/api/users")
        assert {u["name"]: (u["role"], u["disabled"]) for u in users["users"]} == {
            "ani": ("agent", False), "budi": ("supervisor", True), "root": ("admin", False)}
        status, body = await admin.call("POST", "/api/users",
                                        json={"name": "cici", "role": "agent", "pw": "x"})
        assert status == 422 and "unknown field" in body["detail"]


async def test_check_password_throttles_and_rehashes(sessions, db_url):
    async with sessions() as s, s.begin():
        await accounts.add_user(s, "sari", "supervisor", "kata-sandi-sari")
        s.add(User(name="lama", role="agent", password_hash=legacy_hash("sandi-lama-123"),
                   disabled=False))
    # As in the web UI: the password is checked in a read session, and the throttle
    # writes failures through the writing sessions (while the read one is open).
    other = create_engine(db_url, read_only=True)
    reads = session_factory(other, read_only=True)
    guard = accounts.LoginGuard(sessions, per_user=1, per_client=2)

    async def login(name, password, client, guard=guard):
        async with reads() as s:
            principal = await accounts.login(s, name, password, client=client, guard=guard)
            await s.commit()  # a replaced hash
            return principal

    try:
        async with sessions() as s:
            stored = (await s.execute(select(User.password_hash).where(User.name == "sari"))
                      ).scalar_one()
        assert stored.startswith("scrypt$ln=17,r=8,p=1$")
        ok = await login("sari", "kata-sandi-sari", "10.0.0.1")
        assert ok is not None and (ok.name, ok.role) == ("sari", "supervisor")
        assert await login("sari", "salah", "10.0.0.1") is None
        with pytest.raises(accounts.LoginThrottled) as throttled:  # even the right one
            await login("sari", "kata-sandi-sari", "10.0.0.3")
        assert 0 < throttled.value.retry_after <= 900
        # Per address: failures on any names add up (here one unknown name).
        assert await login("x1", "nope", "10.0.0.1") is None
        with pytest.raises(accounts.LoginThrottled):
            await login("lama", "sandi-lama-123", "10.0.0.1")
        # Another process on the same database sees the same failures.
        elsewhere = accounts.LoginGuard(sessions, per_user=1, per_client=2)
        with pytest.raises(accounts.LoginThrottled):
            await login("sari", "kata-sandi-sari", "10.0.0.9", guard=elsewhere)
        # An old-parameter hash verifies and is replaced by a current one.
        ok = await login("lama", "sandi-lama-123", "10.0.0.4")
        assert ok is not None and ok.name == "lama"
        async with sessions() as s:
            rehashed = (await s.execute(select(User.password_hash).where(User.name == "lama"))
                        ).scalar_one()
        assert rehashed.startswith("scrypt$ln=17,r=8,p=1$")
        async with sessions() as s, s.begin():
            await accounts.set_disabled(s, "lama", True)
        fresh = accounts.LoginGuard(sessions)
        assert await login("lama", "sandi-lama-123", "c", guard=fresh) is None
        assert await login("sari", 12345678, "c", guard=fresh) is None
    finally:
        await other.dispose()
