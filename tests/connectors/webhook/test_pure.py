"""The pure parts: signatures, the body contract and its published schema, buckets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.domain import ReportKind
from connectors.webhook import schema, signing, status
from connectors.webhook.ratelimit import RateLimiter

KEY = b"k" * 32
SCHEMA_FILE = Path(__file__).resolve().parents[3] / "connectors" / "webhook" / "schema.json"


def test_signature_round_trip_and_refusals():
    body = b'{"id":"1","text":"x"}'
    headers = signing.sign_headers(KEY, body, 1_700_000_000)
    assert headers["X-Aggregator-Signature"].startswith("sha256=")
    ok = dict(now=1_700_000_100, window=300)
    assert signing.verify([KEY], headers, body, **ok) is None
    assert signing.verify([b"other" * 8, KEY], headers, body, **ok) is None  # rotation
    assert signing.verify([KEY], headers, body + b" ", **ok) == "bad signature"
    assert signing.verify([KEY], {}, body, **ok) == "missing signature headers"
    assert signing.verify([KEY], {**headers, "X-Aggregator-Timestamp": "1e9"}, body,
                          **ok) == "bad timestamp"
    assert signing.verify([KEY], headers, body, now=1_700_000_301,
                          window=300) == "timestamp outside the replay window"
    # The sender may list two signatures while it rotates its key.
    both = {**headers, "X-Aggregator-Signature": "sha256=00, "
            + headers["X-Aggregator-Signature"]}
    assert signing.verify([KEY], both, body, **ok) is None
    # Matches a value computed independently of our code (RFC 2104 HMAC, stdlib).
    import hashlib
    import hmac
    expected = hmac.new(KEY, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Aggregator-Signature"] == "sha256=" + expected


def test_mapping_onto_report():
    body = schema.parse(json.dumps({
        "id": "SMS-77", "text": "Lampu jalan mati", "channel": "sms-1708",
        "kind": "information_request", "thread_id": "SMS-70",
        "reporter": {"phone": "+62 812-3456-7890", "telegram": "@warga"},
    }).encode())
    report = schema.to_report(body, "sms", KEY)
    assert (report.source, report.channel, report.external_id) == ("sms", "sms-1708", "SMS-77")
    assert report.kind == ReportKind.INFORMATION_REQUEST and not report.confidential
    assert report.reply_to == ("SMS-70",) and report.ack is False
    assert report.author.handle == "+6281234567890" and report.author.phone == "+6281234567890"
    assert report.meta == {"thread_id": "SMS-70", "reporter": {"telegram": "@warga"}}


@pytest.mark.parametrize("phone", ["0812 3456 7890", "62-812-3456-7890", "+62 (812) 3456.7890"])
def test_phone_forms_give_one_handle(phone):
    assert schema.normalise_phone(phone) == "+6281234567890"


def test_anonymous_handle_is_keyed_and_stable():
    def handle(anon: bool, key: bytes = KEY) -> str | None:
        return schema.reporter_handle(
            schema.Reporter(email="Budi@Example.id", anonymous=anon), key)

    assert handle(False) == "budi@example.id"
    assert handle(True) == handle(True) != handle(True, b"x" * 32)
    assert "budi" not in handle(True)
    # A name alone is kept: a hash of the folded name, never the name itself.
    only_name = schema.reporter_handle(schema.Reporter(name="Tanpa  Kontak"), KEY)
    assert only_name == schema.reporter_handle(schema.Reporter(name="tanpa kontak"), KEY)
    assert only_name.startswith("name:") and "tanpa" not in only_name
    assert schema.reporter_handle(schema.Reporter(), KEY) is None


def test_whistleblowing_is_always_confidential():
    body = schema.parse(b'{"id": "W1", "text": "Pungli", "kind": "whistleblowing"}')
    assert body.is_confidential and schema.to_report(body, "wbs", KEY).confidential


def test_published_schema_matches_the_model():
    assert json.loads(SCHEMA_FILE.read_text()) == schema.json_schema(), (
        "regenerate: python -m connectors.webhook > connectors/webhook/schema.json")


def test_published_schema_agrees_with_the_model_on_examples():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    good = [
        {"id": "1", "text": "t"},
        {"id": "2", "text": "t", "kind": "aspiration", "confidential": True,
         "created_at": "2026-01-02T03:04:05Z", "reporter": {"email": "a@b.id"},
         "location": {"lat": 1.5, "lon": 2}, "attachments": [{"url": "https://x.id/a"}]},
    ]
    bad = [
        {"text": "t"}, {"id": "1", "text": ""}, {"id": "1", "text": "t", "kind": "x"},
        {"id": "1", "text": "t", "extra": 1}, {"id": "1", "text": "t",
                                              "reporter": {"email": "nope"}},
    ]
    for doc in good:
        assert validator.is_valid(doc)
        schema.parse(json.dumps(doc).encode())
    for doc in bad:
        assert not validator.is_valid(doc)
        with pytest.raises(schema.ValidationError):
            schema.parse(json.dumps(doc).encode())


def test_status_token_needs_the_key():
    ref = status.url("", "", 42, KEY).rsplit("/", 1)[1]
    assert status.parse_ref(ref, [KEY]) == 42
    assert status.parse_ref(ref, [b"other" * 8]) is None
    assert status.parse_ref("43-" + ref.split("-")[1], [KEY]) is None
    assert status.parse_ref("42", [KEY]) is None


def test_token_bucket_with_a_fake_clock():
    now = [100.0]
    limiter = RateLimiter(2.0, 3, clock=lambda: now[0], max_keys=2)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.check("a") == 0
    assert limiter.check("b") == 0
    limiter.check("c")  # over max_keys: idle buckets go, memory stays bounded
    assert len(limiter._buckets) <= 2
    assert RateLimiter(0, 0).check("x") == 0  # rate 0: off


def test_token_bucket_enforces_this_process_share():
    now, processes = [100.0], [2]
    limiter = RateLimiter(2.0, 5, processes=lambda: processes[0], clock=lambda: now[0])
    # Two processes share burst 5 and rate 2/s: this one lets 2 through, then 1 a second.
    assert [limiter.check("a") for _ in range(3)] == [0, 0, pytest.approx(1.0)]
    now[0] += 1.0
    assert limiter.check("a") == 0
    # The other process went away: this one's share grows to the whole limit.
    processes[0] = 1
    now[0] += 2.5
    assert [limiter.check("a") for _ in range(5)] == [0] * 5
    assert limiter.check("a") > 0
    # More processes than the burst: each still lets one request through.
    assert RateLimiter(1.0, 2, processes=lambda: 4).check("b") == 0
