"""Pure parsing: what staff will read from odd mail, and what must never be answered."""

from __future__ import annotations

import pytest

from connectors.email.bounce import bounce_info
from connectors.email.compose import Composer
from connectors.email.parse import Limits, parse_mail, synthetic_id, ticket_ref
from connectors.email.textual import decode_bytes, html_to_text, trim_reply
from tests.connectors.email.mails import AGENCY, bounce_of, complaint, shared_corpus


def test_every_shared_corpus_mail_parses_and_is_classified():
    seen = {"complaint": 0, "bounce": 0, "notice": 0}
    for path in shared_corpus():
        mail = parse_mail(path.read_bytes())
        seen[mail.category] += 1
        assert mail.external_id and len(mail.external_id) <= 512
        assert "\x00" not in mail.text + mail.body
        if mail.category == "complaint":
            assert isinstance(mail.text, str)
    assert seen["bounce"] >= 10 and seen["notice"] == 3 and seen["complaint"] >= 60


@pytest.mark.parametrize("data, declared, expected", [
    ("Jalan rusak".encode("utf-16"), "utf-16", "Jalan rusak"),
    (b"caf\xe9", "x-unknown", "café"),                      # unknown charset: cp1252
    (b"caf\xc3\xa9", "us-ascii", "café"),                   # lies about ASCII: UTF-8
    (b"Jalan \xc3\xa0 rusak \xff", None, "Jalan à rusak \ufffd"),  # mostly UTF-8
    ("스티해".encode("cp949"), "ks_c_5601-1987", "스티해"),   # alias Python lacks
])
def test_charset_fallbacks(data, declared, expected):
    assert decode_bytes(data, declared) == expected


def test_html_drops_script_style_and_keeps_blocks():
    html = ("<html><head><title>t</title><style>.a{}</style></head><body>"
            "<script>steal()</script><p>Baris&nbsp;satu</p><div>Baris <b>dua</b></div>"
            "<ul><li>a</li><li>b</li></ul></body></html>")
    assert html_to_text(html) == "Baris satu\n\nBaris dua\n\na\nb"


def test_trim_reply_quotes_and_signatures():
    text = ("Jalannya masih rusak.\n\nPada Sen, 2 Mar 2026 pukul 08.00 Layanan Aduan "
            "<a@b.id> menulis:\n> Terima kasih\n> atas laporan\n\n-- \nBudi\n0812")
    assert trim_reply(text) == "Jalannya masih rusak."
    outlook = "Sudah dicek?\n\nFrom: Layanan\nSent: Monday\nTo: Budi\nSubject: x\n\nold"
    assert trim_reply(outlook) == "Sudah dicek?"
    assert trim_reply("Dikirim dari iPhone saya") == "Dikirim dari iPhone saya"  # all gone
    assert trim_reply("Satu\n> dua\nTiga") == "Satu\nTiga"  # inline answers stay


def test_headers_rfc2047_threading_and_tags():
    raw = complaint(5, name="Budi", subject="Re: [ADU-2026-000042] Lampu mati",
                    in_reply_to="ack.1@pemkot.example.id",
                    references=["c1@x.id", "ack.1@pemkot.example.id"])
    mail = parse_mail(raw)
    assert mail.sender == "warga5@mail.example.id" and mail.sender_name == "Budi"
    assert mail.reply_to_ids == ("ack.1@pemkot.example.id", "c1@x.id")
    assert ticket_ref(mail.subject, "ADU") == "ADU-2026-000042"
    assert ticket_ref(mail.subject, "LPR") is None
    encoded = parse_mail(b"From: =?iso-8859-1?q?Andr=E9?= <a@x.id>\r\n"
                         b"Subject: =?utf-8?b?SmFsYW4gcnVzYWsg8J+Ymw==?=\r\n\r\nx")
    assert encoded.sender_name == "André" and encoded.subject == "Jalan rusak 😛"


@pytest.mark.parametrize("value, expected", [
    (b"Budi <budi@mail.example.id>", "budi@mail.example.id"),
    (b"Budi budi@mail.example.id (Budi)", "budi@mail.example.id"),
    (b'"Santoso, Budi" <Budi@Mail.Example.ID>', "budi@mail.example.id"),
    (b"x <" + b"a" * 300 + b"@example.id>", None),  # never a truncated stranger
    (b"undisclosed-recipients:;", None),
])
def test_sender_address(value, expected):
    assert parse_mail(b"From: " + value + b"\r\n\r\nhi").sender == expected


def test_synthetic_id_is_stable_across_line_endings():
    lf = b"From: a@x.id\nSubject: s\n\nbody\n"
    assert parse_mail(lf).external_id == parse_mail(lf.replace(b"\n", b"\r\n")).external_id
    assert synthetic_id(lf) != synthetic_id(lf + b"more")


@pytest.mark.parametrize("headers, sender, reason", [
    ({"Auto-Submitted": "auto-generated"}, None, "auto-submitted"),
    ({"Auto-Submitted": "no"}, None, None),
    ({"Precedence": "junk"}, None, "precedence junk"),
    ({"List-Unsubscribe": "<mailto:x@y>"}, None, "mailing list"),
    ({"X-Auto-Response-Suppress": "All"}, None, "auto-reply"),
    ({}, "no-reply@bank.example.id", "no-reply sender"),
    ({}, "MAILER-DAEMON@mx.example.id", "no-reply sender"),
    ({}, AGENCY, "our own address"),
    ({}, None, None),
])
def test_who_is_never_answered(headers, sender, reason):
    mail = parse_mail(complaint(1, sender=sender, headers=headers),
                      Limits(own_addresses=frozenset({AGENCY})))
    assert mail.category == "complaint" and mail.no_ack_reason == reason


def test_bounce_names_our_message_and_the_failure():
    mail = parse_mail(bounce_of("adu-2026-000001.ack.7.abc@pemkot.example.id",
                                "hilang@mail.example.id"))
    assert mail.category == "bounce" and mail.bounce is not None
    info = mail.bounce
    assert info.original_ids == ["adu-2026-000001.ack.7.abc@pemkot.example.id"]
    assert info.recipients == ["hilang@mail.example.id"] and info.status == "5.1.1"
    assert info.action == "failed" and info.is_dsn
    assert "user unknown" in (info.diagnostic or "")
    assert bounce_info.__doc__


def test_headers_only_mail_and_attachment_names():
    big = parse_mail(b"From: a@x.id\r\nSubject: video\r\nMessage-ID: <v@x.id>\r\n",
                     size=50_000_000, headers_only=True)
    assert big.oversized and big.size == 50_000_000 and big.external_id == "v@x.id"
    raw = (b"From: a@x.id\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\n'
           b"Content-Type: text/plain\r\n\r\nisi\r\n--q\r\n"
           b"Content-Type: application/pdf\r\n"
           b'Content-Disposition: attachment; filename="=?utf-8?q?surat_=C3=A0.pdf?="\r\n'
           b"\r\n%PDF\r\n--q--\r\n")
    (att,) = parse_mail(raw).attachments
    assert att.filename == "surat à.pdf" and att.data == b"%PDF"


def test_composed_mail_threads_and_marks_itself_automatic():
    composer = Composer(AGENCY, "Layanan Aduan", "en", status_url="https://aduan.example.id")
    msg_id = composer.message_id("ADU-2026-000001", "ack", 7)
    assert msg_id == composer.message_id("ADU-2026-000001", "ack", 7)  # stable on retry
    msg = composer.build("ack_new", to="b@x.id", message_id=msg_id, thread_ids=["c1@x.id"],
                         auto=True, ticket_number="ADU-2026-000001", name="Budi",
                         subject="Lampu\r\nBcc: evil@x.id")
    assert msg["Subject"] == ("[ADU-2026-000001] We have received your complaint: "
                              "Lampu Bcc: evil@x.id")  # no header injection
    assert msg["In-Reply-To"] == "<c1@x.id>" and msg["Auto-Submitted"] == "auto-replied"
    body = msg.get_payload(decode=True).decode()
    assert "Dear Budi" in body and "https://aduan.example.id/status/ADU-2026-000001" in body


def test_config_errors_name_the_key():
    from pathlib import Path

    from aggregator.config import ConfigError, parse

    with pytest.raises(ConfigError) as err:
        parse({"connectors": {"surel": {
            "type": "email",
            "imap": {"host": "imap.example.id", "username": "u", "password": "p",
                     "security": "ssl", "folders": []},
            "smtp": {"host": "smtp.example.id", "from_address": "not-an-address"},
            "processed_folder": "INBOX",
        }}}, base_dir=Path("."), env={})
    text = str(err.value)
    assert "connectors.surel.imap.security" in text
    assert "connectors.surel.imap.folders" in text
    assert "connectors.surel.smtp.from_address" in text
