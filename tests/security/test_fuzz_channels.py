"""Hostile input from every channel: a stored report or a clear refusal, never a crash.

Property-based runs over the email parser, Telegram updates, X API pages, the config
loader and the text normaliser; what the channel parsers turn into reports is then
ingested into a real database, where every one must be stored exactly once.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot, Update

from aggregator.config import ConfigError, parse
from aggregator.dedup.features import extract
from aggregator.dedup.normalize import tokenize
from aggregator.domain import Report
from aggregator.intake.ingest import Ingestor
from aggregator.intake.pipeline import Pipeline
from connectors.email.intake import build_report
from connectors.email.parse import parse_mail
from connectors.telegram.parse import Inbound, Press, from_update
from connectors.twitter.parse import reports_from

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "email"
RUNS = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
chars = st.characters(exclude_categories=(), include_characters="\x00\ud800\u202e")
text = st.text(chars, max_size=60)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=15)


def real_mails() -> list[bytes]:
    found = sorted(p for p in SHARED.rglob("*") if p.is_file() and p.stat().st_size < 200_000)
    return [p.read_bytes() for p in found[:60]] or [b"Subject: x\r\n\r\nbody"]


MAILS = real_mails()


@st.composite
def mangled_mail(draw: Any) -> bytes:
    """A real message with bytes cut, flipped or inserted, or plain noise."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=3000))
    raw = bytearray(draw(st.sampled_from(MAILS)))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 12))):
        at = rnd.randrange(max(1, len(raw)))
        op = rnd.choice(("flip", "cut", "insert"))
        if op == "flip" and raw:
            raw[at] = rnd.randrange(256)
        elif op == "cut":
            del raw[at: at + rnd.randrange(1, 200)]
        else:
            raw[at:at] = rnd.choice([b"\r\n\r\n", b"--", b"=?utf-8?B?", b"\x00", b"\xff\xfe",
                                     b"Content-Type: multipart/mixed; boundary=\"\"\r\n"])
    return bytes(raw)


def mail_settings(tmp_path: Path) -> Any:
    conf = parse({"database": {"url": "sqlite+aiosqlite:///x.db"}, "connectors": {"mail": {
        "type": "email", "imap": {"host": "127.0.0.1", "username": "a", "password": "b",
                                  "security": "plain"}}}}, base_dir=tmp_path, env={})
    return conf.connectors["mail"]


async def ingest_all(sessions: Any, settings_: Any, reports: list[Report]) -> int:
    ing = Ingestor(sessions, Pipeline(settings_))
    try:
        for i in range(0, len(reports), 50):
            await ing.submit(reports[i: i + 50])
    finally:
        await ing.close()
    from sqlalchemy import func, select

    from storage.models import Report as ReportRow
    async with sessions() as s:
        return int((await s.execute(select(func.count()).select_from(ReportRow))).scalar_one())


async def test_mangled_mail_always_becomes_a_storable_report(tmp_path, sessions, settings):
    conf = mail_settings(tmp_path)
    reports: dict[str, Report] = {}

    @RUNS
    @given(mangled_mail())
    def one(raw: bytes) -> None:
        mail = parse_mail(raw)
        report = build_report(mail, "mail", "ADU", conf, "INBOX")
        assert isinstance(report.text, str) and report.text.strip()
        assert parse_mail(raw).external_id == mail.external_id  # stable: no double store
        reports[report.external_id] = report

    one()
    assert await ingest_all(sessions, settings, list(reports.values())) == len(reports)


def test_telegram_updates_of_any_shape_parse_or_are_ignored():
    bot = Bot("123:abc")
    message = st.fixed_dictionaries({
        "message_id": st.integers(-5, 2**40), "date": st.integers(0, 2**32),
        "chat": st.fixed_dictionaries({"id": st.integers(-2**40, 2**40),
                                       "type": st.sampled_from(["private", "group", "x"])}),
    }, optional={
        "text": text, "caption": text,
        "from": st.fixed_dictionaries({"id": st.integers(1, 2**40),
                                       "is_bot": st.booleans(), "first_name": text}),
        "entities": st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["bot_command", "mention", "url"]),
            "offset": st.integers(-3, 50), "length": st.integers(-3, 50)}), max_size=3),
        "reply_to_message": st.fixed_dictionaries({"message_id": st.integers(),
                                                   "date": st.integers(0, 2**32),
                                                   "chat": st.just({"id": 1,
                                                                    "type": "private"})}),
    })

    @RUNS
    @given(st.integers(0, 2**40), message, st.sampled_from(["message", "edited_message"]))
    def one(update_id: int, msg: dict[str, Any], key: str) -> None:
        update = Update.de_json({"update_id": update_id, key: msg}, bot)
        got = from_update(update, "AduanBot")
        assert got is None or isinstance(got, Inbound | Press)
        if isinstance(got, Inbound):
            assert isinstance(got.text, str)

    one()


async def test_x_pages_of_any_shape_give_reports_or_nothing(sessions, settings):
    tweet = st.fixed_dictionaries({"id": st.integers(1, 2**62).map(str) | text},
                                  optional={"text": text, "author_id": text | st.integers(),
                                            "created_at": text, "conversation_id": text,
                                            "public_metrics": json_values,
                                            "referenced_tweets": json_values,
                                            "edit_history_tweet_ids": json_values})
    page = st.fixed_dictionaries({}, optional={
        "data": st.lists(tweet, max_size=5) | json_values,
        "includes": st.fixed_dictionaries({}, optional={"users": json_values}),
        "meta": json_values})
    reports: dict[str, Report] = {}

    @RUNS
    @given(st.lists(page, max_size=3))
    def one(pages: list[dict[str, Any]]) -> None:
        got, dropped = reports_from(pages, source="x", timeline="mentions")
        assert dropped >= 0
        for r in got:
            assert isinstance(r.text, str) and r.external_id
            reports[r.external_id] = r

    one()
    assert await ingest_all(sessions, settings, list(reports.values())) == len(reports)


def test_config_of_any_shape_loads_or_says_what_is_wrong(tmp_path):
    section = st.dictionaries(st.sampled_from(
        ["database", "web", "tickets", "dedup", "logging", "connectors", "escalation",
         "virality", "access", "data_dir", "x"]), json_values, max_size=4)

    @RUNS
    @given(section)
    def one(raw: dict[str, Any]) -> None:
        try:
            parse(raw, base_dir=tmp_path, env={})
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)

    one()


def test_the_normaliser_takes_any_text():
    @RUNS
    @given(st.text(chars, max_size=400))
    def one(value: str) -> None:
        tokenize(value)
        extract(value)

    one()
