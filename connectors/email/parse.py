"""One raw RFC 5322 message -> what the connector needs to know. Pure, never raises.

Parsed with the standard `email` package; see `headers` for why the structure is
read with compat32 and the headers with policy.default.

`parse_mail` classifies (complaint, bounce, notice), picks the readable text
(text/plain first, else HTML rendered), trims quotes and signatures while keeping the
full body, collects attachments under caps with their hashes, and decides whether the
sender may be answered at all (no mail loops, no noise).
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from typing import Any, Literal

from connectors.email import headers as h
from connectors.email.bounce import BounceInfo, bounce_info, looks_like_bounce
from connectors.email.textual import (
    clean,
    decode_bytes,
    html_to_text,
    one_line,
    repair_surrogates,
    trim_reply,
)

TEXT_MAX = 20_000
BODY_MAX = 200_000
MAX_DEPTH = 30
MAX_PARTS = 500
_NOREPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_]?daemon|postmaster"
                      r"|mail[-_]?daemon|bounces?)([+-].*)?$", re.IGNORECASE)

Category = Literal["complaint", "bounce", "notice"]


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes | None  # None when over the caps (note says why)
    note: str | None = None


@dataclass
class Limits:
    max_attachments: int = 10
    max_attachment_bytes: int = 10 * 1024 * 1024
    own_addresses: frozenset[str] = frozenset()


@dataclass
class ParsedMail:
    external_id: str
    message_id: str | None  # None when the mail had none (external_id is synthetic)
    category: Category
    subject: str
    sender: str | None
    sender_name: str | None
    sent_at: datetime | None
    reply_to_ids: tuple[str, ...]
    text: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    no_ack_reason: str | None = None
    bounce: BounceInfo | None = None
    defects: list[str] = field(default_factory=list)
    size: int = 0
    oversized: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def ticket_ref(subject: str, prefix: str) -> str | None:
    """The ticket number named in a subject tag, e.g. "Re: [ADU-2026-000123] ..."."""
    m = re.search(rf"\[\s*#?\s*({re.escape(prefix)}-\d{{4}}-\d{{4,}})\s*\]", subject,
                  re.IGNORECASE)
    return m.group(1).upper() if m else None


def synthetic_id(raw: bytes) -> str:
    """A stable id for a mail without Message-ID: the same bytes give the same id, so
    a re-fetch after a crash or a UIDVALIDITY change is still recognised. Line ends
    are normalised first: servers store or serve LF mail as CRLF."""
    norm = raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    return f"sha256.{hashlib.sha256(norm).hexdigest()[:40]}@no-message-id"


def parse_mail(raw: bytes, limits: Limits | None = None, *, size: int | None = None,
               headers_only: bool = False) -> ParsedMail:
    """Parse `raw`; `headers_only` means `raw` is just the header of a mail too big to
    fetch (`size` bytes), which becomes a report saying so."""
    limits = limits or Limits()
    try:
        return _parse(raw, limits, size if size is not None else len(raw), headers_only)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never lose a mail
        text = clean(decode_bytes(raw[:TEXT_MAX * 2]), TEXT_MAX)
        return ParsedMail(
            external_id=synthetic_id(raw), message_id=None, category="complaint",
            subject="", sender=None, sender_name=None, sent_at=None, reply_to_ids=(),
            text=text or "(email tidak dapat dibaca)", body=text,
            no_ack_reason="unparseable", defects=[f"parser crashed: {type(exc).__name__}"],
            size=len(raw),
        )


def _parse(raw: bytes, limits: Limits, size: int, headers_only: bool) -> ParsedMail:
    # compat32 for the MIME structure: linear time on hostile input (policy.default
    # re-parses Content-Type per part and its header parser is quadratic: a 3 MB
    # deeply nested mail took 3 s). Headers are decoded by policy.default in `headers`.
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])][:20]
    message_id = h.normalise_id(h.raw_header(msg, "Message-ID"))
    external_id = message_id or synthetic_id(raw)
    subject = h.header(msg, "Subject", 300)
    name, sender = h.address(msg, "From")
    if sender is None:
        name2, sender = h.address(msg, "Sender")
        name = name or name2
    reply_ids = h.ids_in(h.raw_header(msg, "In-Reply-To"))
    reply_ids += h.ids_in(" ".join(h.raw_header(msg, "References", tail=True).split()))
    reply_ids = [i for i in dict.fromkeys(reply_ids) if i != message_id][-50:]
    meta: dict[str, Any] = {
        "message_id": message_id,
        "subject": subject,
        "from": sender,
        "to": h.addresses(msg, "To"),
        "cc": h.addresses(msg, "Cc"),
    }
    parsed = ParsedMail(
        external_id=external_id, message_id=message_id, category="complaint",
        subject=subject, sender=sender, sender_name=name, sent_at=h.date(msg),
        reply_to_ids=tuple(reply_ids), text="", body="", defects=defects, size=size,
        oversized=headers_only, meta=meta,
    )
    if headers_only:
        parsed.no_ack_reason = _no_ack_reason(msg, sender, limits)
        parsed.text = parsed.body = ""
        parsed.defects = []  # a header alone always "lacks" its MIME parts
        return parsed
    if looks_like_bounce(msg, sender, subject):
        parsed.category = "bounce"
        parsed.bounce = bounce_info(msg, decode_bytes(raw[:200_000]), message_id)
        return parsed
    if _is_notice(msg):
        parsed.category = "notice"
        return parsed
    walker = _Walker(limits)
    walker.walk(msg, 0)
    parsed.defects += walker.defects
    body = walker.body_text()
    parsed.body = clean(body, BODY_MAX)
    parsed.text = clean(trim_reply(body), TEXT_MAX) if body else ""
    parsed.attachments = walker.attachments
    parsed.no_ack_reason = _no_ack_reason(msg, sender, limits)
    return parsed


def _is_notice(msg: Message) -> bool:
    """Machine reports that are neither complaints nor bounces: read receipts (MDN),
    ISP spam-feedback reports (ARF)."""
    if msg.get_content_type() == "multipart/report":
        return True  # delivery-status ones were taken as bounces already
    return msg.get_content_type() in ("message/disposition-notification",
                                      "message/feedback-report")


def _no_ack_reason(msg: Message, sender: str | None, limits: Limits) -> str | None:
    """Why this mail must never be answered automatically (RFC 3834 and practice)."""
    auto = h.header(msg, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return "auto-submitted"
    precedence = h.header(msg, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence {precedence}"
    if h.header(msg, "List-Id") or h.header(msg, "List-Unsubscribe"):
        return "mailing list"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if h.header(msg, name):
            return "auto-reply"
    if h.header(msg, "Return-Path").strip() == "<>":
        return "null return path"
    if sender is None:
        return "no sender address"
    if _NOREPLY.match(sender.split("@", 1)[0]):
        return "no-reply sender"
    if sender in limits.own_addresses:
        return "our own address"
    return None


class _Walker:
    """Collects text candidates and attachments from a MIME tree, depth-bounded."""

    def __init__(self, limits: Limits, keep_files: bool = True):
        self.limits = limits
        self.keep_files = keep_files  # False inside a forwarded mail: its text only
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.defects: list[str] = []
        self._parts = 0
        self._stored = 0

    def body_text(self) -> str:
        if any(p.strip() for p in self.plain):
            return "\n\n".join(p.strip() for p in self.plain if p.strip())
        if self.html:
            return "\n\n".join(html_to_text(x) for x in self.html).strip()
        return ""

    def walk(self, part: Message, depth: int) -> None:
        self._parts += 1
        if depth > MAX_DEPTH or self._parts > MAX_PARTS:
            if "too deep" not in self.defects:
                self.defects.append("too deep")
            return
        ctype = _ctype(part)
        payload = part.get_payload()
        if isinstance(payload, list) and ctype == "message/rfc822":
            self._enclosed(part, payload, depth)
        elif isinstance(payload, list):
            subs = [p for p in payload if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                subs = _best_alternative(subs)
            for sub in subs:
                self.walk(sub, depth + 1)
        else:
            self._leaf(part, ctype)

    def _leaf(self, part: Message, ctype: str) -> None:
        disposition = _safe(lambda: part.get_content_disposition(), None)
        filename = _filename(part)
        is_text = ctype in ("text/plain", "text/html") or ctype.startswith("multipart/")
        if is_text and disposition != "attachment" and not filename:
            text = decode_bytes(_payload_bytes(part), _safe(part.get_content_charset, None))
            (self.html if ctype == "text/html" else self.plain).append(text)
            return
        self._attach(filename, ctype, _payload_bytes(part))

    def _enclosed(self, part: Message, payload: list[Any], depth: int) -> None:
        """A forwarded mail: kept whole as an attachment; its text joins ours only
        when we have none of our own (a bare "Fwd:" of a complaint)."""
        inner = payload[0] if payload and isinstance(payload[0], Message) else None
        subject = h.header(inner, "Subject", 120) if inner is not None else ""
        if self.keep_files:
            data = _safe(lambda: inner.as_bytes(policy=policy.compat32), b"") if inner else b""
            self._attach(_filename(part) or f"{subject or 'pesan'}.eml", "message/rfc822",
                         data or b"")
        if inner is not None:
            sub = _Walker(self.limits, keep_files=False)
            sub._parts = self._parts
            sub.walk(inner, depth + 1)
            self._parts = sub._parts
            text = sub.body_text()
            if text:
                self.plain.append(f"[{subject}]\n{text}" if subject else text)

    def _attach(self, filename: str | None, ctype: str, data: bytes) -> None:
        if not self.keep_files:
            return
        if len(self.attachments) >= max(100, self.limits.max_attachments):
            return
        note = None
        keep: bytes | None = data
        if self._stored >= self.limits.max_attachments:
            keep, note = None, f"lebih dari {self.limits.max_attachments} lampiran"
        elif len(data) > self.limits.max_attachment_bytes:
            keep, note = None, f"melebihi batas {self.limits.max_attachment_bytes} byte"
        else:
            self._stored += 1
        self.attachments.append(Attachment(
            filename=filename, content_type=ctype[:127], size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), data=keep, note=note,
        ))


def _best_alternative(subs: list[Message]) -> list[Message]:
    for wanted in ("text/plain", "text/html"):
        for sub in subs:
            if _ctype(sub) == wanted and not _filename(sub):
                return [sub]
    return subs[-1:]


def _ctype(part: Message) -> str:
    return _safe(lambda: part.get_content_type().lower(), "application/octet-stream")


def _payload_bytes(part: Message) -> bytes:
    data = _safe(lambda: part.get_payload(decode=True), None)
    if isinstance(data, bytes):
        return data
    raw = _safe(lambda: part.get_payload(), "")
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _filename(part: Message) -> str | None:
    name = _safe(part.get_filename, None)
    if not name:
        return None
    name = repair_surrogates(str(name))
    if "=?" in name:
        name = h.decode_words(name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = one_line(name, 255).strip(". ")
    return name or None


def _safe(fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - hostile MIME makes the email package raise anywhere
        return default
