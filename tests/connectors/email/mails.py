"""Builders of test mail (complaints, replies, bounces, hostile shapes) as raw bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

SHARED_EMAIL = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "email"
AGENCY = "aduan@pemkot.example.id"


def shared_corpus() -> list[Path]:
    if not SHARED_EMAIL.exists():
        pytest.skip(f"shared test data {SHARED_EMAIL} is absent (see shared/data/README.md)")
    return sorted(SHARED_EMAIL.rglob("*.eml"))


_WORDS = (
    "jalan lampu air listrik sampah trotoar jembatan selokan parit banjir pohon tumbang "
    "pelayanan antrean puskesmas sekolah guru bidan rumah sakit ktp kartu keluarga akta "
    "pajak retribusi parkir liar pedagang kaki lima pasar terminal angkot bus ojek "
    "kebisingan bau limbah pabrik asap debu bising malam siang pagi sore kemarin minggu "
    "lurah camat rt rw kelurahan kecamatan dinas kantor petugas pegawai pungutan calo "
    "rusak berlubang mati padam bocor tersumbat menumpuk macet lambat mahal kotor gelap "
    "licin longsor retak runtuh hilang dicuri rawan berbahaya anak lansia warga pengguna "
    "gang blok perumahan kompleks desa dusun pinggir utara selatan timur barat tengah"
).split()


def distinct_text(i: int, words: int = 12) -> str:
    """A complaint text unlike every other i (the near-duplicate matcher would fold
    look-alike texts into one ticket, which is right for real mail, not for counts):
    a few common words and mostly made-up place names unique to i."""
    import random

    rng = random.Random(i * 7919 + 17)
    syllables = "ka ma lu te so ri pa ngu wi de bo sa ji ra nu ke to li gi ha".split()

    def name() -> str:
        return "".join(rng.choice(syllables) for _ in range(3)).capitalize()

    places = " ".join(f"{name()} {name()}" for _ in range(6))
    common = " ".join(rng.choice(_WORDS) for _ in range(words))
    return f"Laporan {i} dari {places}: {common}."


def complaint(
    i: int, *, sender: str | None = None, name: str | None = None, subject: str | None = None,
    text: str | None = None, in_reply_to: str | None = None, references: list[str] | None = None,
    headers: dict[str, str] | None = None, message_id: str | None = "auto",
    date: datetime | None = None,
) -> bytes:
    sender = sender or f"warga{i}@mail.example.id"
    msg = EmailMessage()
    msg["From"] = f"{name or f'Warga {i}'} <{sender}>"
    msg["To"] = AGENCY
    msg["Subject"] = subject if subject is not None else f"Keluhan nomor {i}"
    msg["Date"] = format_datetime(date or datetime(2026, 3, 1, 8, i % 60, tzinfo=UTC))
    if message_id == "auto":
        msg["Message-ID"] = f"<c{i}.{sender.split('@')[0]}@mail.example.id>"
    elif message_id:
        msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text or f"Lampu jalan di gang {i} mati sejak {i % 9 + 1} hari, "
                            f"mohon segera diperbaiki. Terima kasih.")
    return bytes(msg)


def bounce_of(message_id: str, recipient: str, *, i: int = 0) -> bytes:
    """A standard RFC 3464 delivery-status report for a mail we sent."""
    boundary = f"b{i}xyz"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.id>\r\n"
        f"To: {AGENCY}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"Message-ID: <bounce{i}@mx.example.id>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        f"This is the mail system. Your message could not be delivered.\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.id\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {AGENCY}\r\nTo: {recipient}\r\nMessage-ID: <{message_id}>\r\n"
        f"Subject: [ADU] Pengaduan\r\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()


def hostile() -> list[tuple[str, bytes]]:
    """Generated odd shapes beside the shared corpus: each must become a report."""
    big_part = b"A" * 3_000_000
    return [
        ("html-only", (
            b"From: Html <html@mail.example.id>\r\nSubject: HTML saja\r\n"
            b"Message-ID: <h1@mail.example.id>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            b"<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
            b"<body><p>Trotoar <b>rusak</b> di Jl. Merdeka</p></body></html>\r\n")),
        ("unknown-charset", (
            b"From: Cs <cs@mail.example.id>\r\nSubject: charset aneh\r\n"
            b"Message-ID: <cs1@mail.example.id>\r\n"
            b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
            b"Sampah menumpuk di pasar \xe9\xe8 sejak minggu lalu\r\n")),
        ("8bit-headers", (
            b"From: \xc3\x89lodie <elodie@mail.example.id>\r\nSubject: Jalan \xc3\xa0 rusak "
            b"\xff\xfe\r\nMessage-ID: <8b@mail.example.id>\r\n\r\nJalan berlubang besar\r\n")),
        ("empty-body", (
            b"From: Kosong <kosong@mail.example.id>\r\nSubject: Tanpa isi\r\n"
            b"Message-ID: <empty@mail.example.id>\r\n\r\n")),
        ("no-headers-at-all", b"\r\n\r\njust some bytes \x00\x01\x02 with a NUL\r\n"),
        ("attachments-only", (
            b"From: Foto <foto@mail.example.id>\r\nSubject: \r\n"
            b"Message-ID: <att@mail.example.id>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
            b"--zz\r\nContent-Type: image/jpeg; name=\"jalan.jpg\"\r\n"
            b"Content-Disposition: attachment; filename=\"../../etc/jalan.jpg\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n--zz--\r\n")),
        ("nested-multipart", (
            b"From: Nest <nest@mail.example.id>\r\nSubject: bersarang\r\n"
            b"Message-ID: <nest@mail.example.id>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n--a\r\n'
            b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
            b'Content-Type: multipart/related; boundary="c"\r\n\r\n--c\r\n'
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Air PDAM keruh</p>\r\n"
            b"--c--\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Air PDAM keruh di RW 05\r\n--b--\r\n--a--\r\n")),
        ("huge-part", (
            b"From: Besar <besar@mail.example.id>\r\nSubject: bagian besar\r\n"
            b"Message-ID: <huge@mail.example.id>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="h"\r\n\r\n--h\r\n'
            b"Content-Type: text/plain\r\n\r\nLihat lampiran\r\n--h\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
            b"filename=big.bin\r\n\r\n" + big_part + b"\r\n--h--\r\n")),
        ("many-attachments", _with_attachments("many", 6, 1000)),
        ("big-attachment", _with_attachments("bigatt", 1, 500_000)),
        ("rfc2047-subject", (
            b"From: =?utf-8?b?QnVkaSDwn5iK?= <budi@mail.example.id>\r\n"
            b"Subject: =?utf-8?q?Pelayanan_KTP_lambat_=E2=80=94_antre_5_jam?=\r\n"
            b"Message-ID: <rfc2047@mail.example.id>\r\n\r\nAntre KTP lama sekali\r\n")),
        ("broken-base64", (
            b"From: B64 <b64@mail.example.id>\r\nSubject: base64 rusak\r\n"
            b"Message-ID: <b64@mail.example.id>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"SmFsYW4g!!!cnVzYWs=*&^\r\n")),
        ("giant-subject", (
            b"From: Long <long@mail.example.id>\r\nSubject: " + b"=?utf-8?q?abc?= " * 20000
            + b"\r\nMessage-ID: <giant@mail.example.id>\r\n\r\nSubjek sangat panjang\r\n")),
        ("no-message-id", (
            b"From: Noid <noid@mail.example.id>\r\nSubject: tanpa id\r\n\r\n"
            b"Parit tersumbat di Jl. Kenanga\r\n")),
    ]


def _with_attachments(tag: str, count: int, size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Lampiran <{tag}@mail.example.id>"
    msg["Subject"] = f"Foto kerusakan ({count})"
    msg["Message-ID"] = f"<{tag}@mail.example.id>"
    msg.set_content("Berikut foto-fotonya.")
    for n in range(count):
        msg.add_attachment(bytes([n]) * size, maintype="image", subtype="png",
                           filename=f"foto{n}.png")
    return bytes(msg)
