"""The intake contract as a sending portal sees it, against a real database."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time

import aiohttp
import pytest

from storage.models import Report as ReportRow
from tests.connectors.webhook.harness import SECRET, complaint, serve, webhook_settings


@pytest.fixture
async def hook(db_url, tmp_path, sessions):
    async with serve(webhook_settings(db_url, tmp_path), sessions) as h:
        yield h


async def test_new_report_then_repeat_is_safe(hook):
    status, first, _ = await hook.post(complaint(1))
    assert status == 201
    assert first["ticket"].startswith("ADU-") and isinstance(first["report_id"], int)
    assert first["status_url"].startswith(hook.base + "/hooks/lapor/status/")
    status, again, _ = await hook.post(complaint(1))
    assert status == 200 and again == first
    assert (await hook.counts())["reports"] == 1
    assert (await hook.counts())["tickets"] == 1


async def test_fields_land_on_the_report(hook):
    body = complaint(
        7, title="Jalan rusak", category="infrastruktur", kind="aspiration",
        created_at="2026-03-01T08:30:00+07:00",
        location={"lat": -6.2, "lon": 106.8, "address": "Jl. Merdeka 1"},
        attachments=[{"url": "https://lapor.go.id/f/1.jpg", "filename": "1.jpg",
                      "content_type": "image/jpeg", "size": 1234}],
        meta={"lapor_category_id": 42},
    )
    body["reporter"]["email"] = "Warga7@Example.ID"
    status, answer, _ = await hook.post(body)
    assert status == 201
    async with hook.sessions() as s:
        row = await s.get(ReportRow, answer["report_id"])
    assert (row.source, row.channel, row.external_id) == ("lapor", "web-form", "LAPOR-7")
    assert row.kind == "aspiration" and row.title == "Jalan rusak" and not row.anonymous
    assert row.sent_at.isoformat() == "2026-03-01T01:30:00+00:00"
    assert row.meta == {
        "category": "infrastruktur",
        "location": {"lat": -6.2, "lon": 106.8, "address": "Jl. Merdeka 1"},
        "attachments": [{"url": "https://lapor.go.id/f/1.jpg", "filename": "1.jpg",
                         "content_type": "image/jpeg", "size": 1234}],
        "source_meta": {"lapor_category_id": 42},
    }


async def test_channel_defaults_to_connector_name_and_thread_follows_up(hook):
    body = complaint(2)
    del body["channel"]
    _, first, _ = await hook.post(body)
    status, follow, _ = await hook.post(
        {"id": "LAPOR-2-b", "text": "Sudah seminggu, belum ada tindakan", "thread_id": "LAPOR-2"})
    assert status == 201 and follow["ticket"] == first["ticket"]
    async with hook.sessions() as s:
        row = await s.get(ReportRow, first["report_id"])
        second = await s.get(ReportRow, follow["report_id"])
    assert row.channel == "lapor" and second.match_reason == "reply"


async def test_anonymous_and_whistleblowing(hook):
    status, anon, _ = await hook.post(complaint(3, reporter={"phone": "081299", "anonymous": True,
                                                             "name": "Rahasia"}))
    assert status == 201
    status, wbs, _ = await hook.post(complaint(4, kind="whistleblowing"))
    assert status == 201 and wbs["status_url"] is None
    status, conf, _ = await hook.post(complaint(5, confidential=True))
    assert status == 201 and conf["status_url"] is None
    async with hook.sessions() as s:
        a = await s.get(ReportRow, anon["report_id"])
        w = await s.get(ReportRow, wbs["report_id"])
        from storage.models import Reporter
        rep = await s.get(Reporter, a.reporter_id)
    assert a.anonymous and not a.confidential
    # The handle shown beside the report does not carry the number.
    assert rep.handle.startswith("anon:") and "0812" not in rep.handle
    assert rep.phone == "+6281299" and rep.name == "Rahasia"  # kept for supervisors
    assert w.confidential and w.kind == "whistleblowing"


async def test_public_status_view(hook):
    _, ok, _ = await hook.post(complaint(6))
    async with hook.http.get(ok["status_url"]) as resp:
        assert resp.status == 200
        view = await resp.json()
    assert view["ticket"] == ok["ticket"] and view["state"] == "new"
    assert "text" not in json.dumps(view) and "Warga" not in json.dumps(view)
    # A guessed id with a wrong token, or a confidential report: nothing to see.
    guess = ok["status_url"].rsplit("/", 1)[0] + f"/{ok['report_id']}-{'0' * 24}"
    _, wbs, _ = await hook.post(complaint(8, kind="whistleblowing"))
    from connectors.webhook import status as st
    wbs_url = st.url(hook.base, "/hooks/lapor", wbs["report_id"], SECRET.encode())
    for url in (guess, wbs_url, hook.base + "/hooks/lapor/status/abc"):
        async with hook.http.get(url) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == "not_found"


REFUSALS = [
    # (case, post kwargs, expected status, expected error)
    ("no signature", {"sign": False}, 401, "unauthorized"),
    ("bad signature", {"secret": "another-secret-0123456789"}, 401, "unauthorized"),
    # "ts" here is an offset from the time of the post (an absolute time taken at
    # import would drift into the replay window when the test runs minutes later).
    ("stale timestamp", {"ts": -301}, 401, "unauthorized"),
    ("future timestamp", {"ts": 400}, 401, "unauthorized"),
    ("tampered signature", {"headers": {"X-Aggregator-Signature": "sha256=" + "0" * 64}},
     401, "unauthorized"),
    ("not json type", {"headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type"),
    ("latin-1 charset", {"headers": {"Content-Type": "application/json; charset=latin-1"}},
     415, "unsupported_media_type"),
    ("form encoded", {"headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "unsupported_media_type"),
]


# One database for all cases (a fresh schema per case costs ~1 s on PostgreSQL).
async def test_refusals_write_nothing(hook):
    before = await hook.counts()
    for case, kw, code, err in REFUSALS:
        if "ts" in kw:
            kw = {**kw, "ts": time.time() + kw["ts"]}
        status, body, _ = await hook.post(complaint(10), **kw)
        assert (status, body["error"]) == (code, err), case
    assert await hook.counts() == before


INVALID = [
    ({"text": "tanpa id"}, [("id", "required")]),
    ({"id": "x", "text": "   "}, [("text", "must not be empty")]),
    ({"id": 5, "text": "angka"}, [("id", "Input should be a valid string")]),
    ({"id": "x", "text": "t", "reporter": {"email": "bukan-email"}},
     [("reporter.email", "not an email address")]),
    ({"id": "x", "text": "t", "reporter": {"emial": "a@b.id"}},
     [("reporter.emial", "unknown field")]),
    ({"id": "x", "text": "t", "kind": "gossip"}, [("kind", None)]),
    ({"id": "x", "text": "t", "created_at": "kemarin"}, [("created_at", None)]),
    ({"id": "x", "text": "t", "created_at": "2026-01-01T10:00:00"}, [("created_at", None)]),
    ({"id": "x", "text": "t", "location": {"lat": 200, "lon": 1}}, [("location.lat", None)]),
    ({"id": "x", "text": "t", "attachments": [{"url": "file:///etc/passwd"}]},
     [("attachments[0].url", "must be an http:// or https:// URL")]),
    ({"id": "x", "text": "nul \u0000 byte"}, [("text", "must not contain NUL characters")]),
    ({"id": "x", "text": "t", "meta": {"k": "nul \u0000"}},
     [("meta", "must not contain NUL characters")]),
    ([1, 2], [("(body)", "must be a JSON object")]),
]


async def test_invalid_bodies_name_their_fields(hook):
    before = await hook.counts()
    for body, expected in INVALID:
        status, answer, _ = await hook.post(body)
        assert status == 400 and answer["error"] == "invalid", body
        got = {(f["field"], f["message"]) for f in answer["fields"]}
        for field, message in expected:
            assert field in {f for f, _ in got}, (body, answer)
            if message:
                assert (field, message) in got, (body, answer)
    assert await hook.counts() == before


async def test_broken_json_is_400(hook):
    before = await hook.counts()
    for raw in [b"{not json", b"", "{\"id\": \"\xe9\"}".encode("latin-1"), b"[" * 100_000]:
        status, answer, _ = await hook.post(raw=raw)
        assert status == 400, raw[:20]
        assert answer["fields"] == [{"field": "(body)", "message": "not valid JSON"}]
    assert await hook.counts() == before


async def test_over_max_body_is_413_declared_or_chunked(hook):
    before = await hook.counts()
    big = complaint(11, text="x" * (2 * 1024 * 1024))
    status, answer, _ = await hook.post(big)
    assert status == 413 and answer["max_bytes"] == 1024 * 1024
    # Chunked upload: no Content-Length, the cap still holds while reading.
    data = json.dumps(big).encode()

    async def chunks():
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    async with aiohttp.ClientSession() as http, http.post(
        hook.base + "/hooks/lapor", data=chunks(),
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 413
    # A gzip bomb: 10 KB on the wire, 20 MB inflated. The cap counts inflated bytes.
    bomb = gzip.compress(b'{"id": "b", "text": "' + b"a" * 20_000_000 + b'"}')
    status, answer, _ = await hook.post(raw=bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413 and len(bomb) < 100_000
    assert await hook.counts() == before
    status, _, _ = await hook.post(complaint(12))  # the service is still fine
    assert status == 201


async def test_replayed_delivery(hook):
    """A captured delivery re-sent inside the window is a harmless repeat; re-sent
    later it is refused; re-signed with a new timestamp needs the secret."""
    body = json.dumps(complaint(20)).encode()
    ts = time.time()
    status, first, _ = await hook.post(raw=body, ts=ts)
    assert status == 201
    status, again, _ = await hook.post(raw=body, ts=ts)
    assert status == 200 and again == first
    signed = {"X-Aggregator-Timestamp": str(int(ts)),
              "X-Aggregator-Signature": None}
    from connectors.webhook.signing import signature
    signed["X-Aggregator-Signature"] = signature(SECRET.encode(), str(int(ts)), body)
    # Same signature, fresher timestamp header: the signature no longer matches.
    forged = {**signed, "X-Aggregator-Timestamp": str(int(ts) + 60)}
    status, answer, _ = await hook.post(raw=body, sign=False, headers=forged)
    assert status == 401 and answer["detail"] == "bad signature"
    # The original, once outside the replay window (we move our clock forward).
    hook.conn.intake.clock = lambda: ts + 301
    status, answer, _ = await hook.post(raw=body, sign=False, headers=signed)
    assert status == 401 and answer["detail"] == "timestamp outside the replay window"
    assert (await hook.counts())["reports"] == 1


async def test_500_concurrent_posts_with_20_percent_repeats(db_url, tmp_path, sessions):
    settings = webhook_settings(db_url, tmp_path, rate_limit={"rate": 0, "per_client_rate": 0})
    async with serve(settings, sessions) as hook:
        distinct = 400
        bodies = [complaint(i) for i in range(distinct)]
        rng = random.Random(3)
        bodies += [complaint(rng.randrange(distinct)) for _ in range(100)]
        rng.shuffle(bodies)
        answers = await asyncio.gather(*(hook.post(b) for b in bodies))
        codes = [a[0] for a in answers]
        assert codes.count(201) == distinct and codes.count(200) == 100
        by_id: dict[str, set[str]] = {}
        for body, (_, answer, _) in zip(bodies, answers, strict=True):
            by_id.setdefault(body["id"], set()).add(answer["ticket"])
        assert all(len(t) == 1 for t in by_id.values())
        counts = await hook.counts()
        assert counts["reports"] == distinct and counts["tickets"] == distinct
        assert len({t for ts in by_id.values() for t in ts}) == distinct


async def test_rate_limits_answer_429_with_retry_after(db_url, tmp_path, sessions):
    settings = webhook_settings(db_url, tmp_path, rate_limit={
        "rate": 0.5, "burst": 3, "per_client_rate": 0.5, "per_client_burst": 5})
    async with serve(settings, sessions) as hook:
        # Unsigned junk spends only the per-address allowance, not the source's.
        codes = [(await hook.post(complaint(i), sign=False))[0] for i in range(5)]
        assert codes == [401] * 5
        status, answer, headers = await hook.post(complaint(0))
        assert status == 429 and "this address" in answer["detail"]
        assert int(headers["Retry-After"]) >= 1
        hook.conn.intake.per_client.rate = 0  # a second address, in effect
        codes = [(await hook.post(complaint(i)))[0] for i in range(4)]
        assert codes == [201, 201, 201, 429]
        status, answer, headers = await hook.post(complaint(9))
        assert status == 429 and "this source" in answer["detail"]
        assert int(headers["Retry-After"]) >= 1
        assert (await hook.counts())["reports"] == 3


async def test_secret_rotation_accepts_previous_secret(db_url, tmp_path, sessions):
    settings = webhook_settings(db_url, tmp_path, secret="the-new-secret-0123456789",
                                previous_secrets=[SECRET])
    async with serve(settings, sessions) as hook:
        assert (await hook.post(complaint(1), secret=SECRET))[0] == 201
        assert (await hook.post(complaint(2), secret="the-new-secret-0123456789"))[0] == 201
        assert (await hook.post(complaint(3), secret="a-third-secret-012345678"))[0] == 401


async def test_shutting_down_answers_503_and_the_retry_lands_later(db_url, tmp_path, sessions):
    settings = webhook_settings(db_url, tmp_path)
    async with serve(settings, sessions) as hook:
        await hook.ingestor.close()  # the daemon is stopping: ingest takes nothing new
        status, answer, headers = await hook.post(complaint(1))
        assert (status, answer["error"], headers["Retry-After"]) == (503, "unavailable", "5")
        assert (await hook.counts())["reports"] == 0
    async with serve(settings, sessions) as hook:  # the sender retries after a restart
        assert (await hook.post(complaint(1)))[0] == 201
