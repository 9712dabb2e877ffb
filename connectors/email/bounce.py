"""Recognising delivery reports (bounces) and what they are about. Pure functions.

A bounce is not a complaint: it tells us that a mail we sent (an acknowledgement, a
staff reply) did not arrive. What matters is the Message-ID of that original mail,
which the MTA quotes in the returned message or its headers; the connector matches it
against the outbox and records the failure on the ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from connectors.email.headers import header, normalise_id
from connectors.email.textual import one_line

_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon")
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery (status|failure|has failed)|returned mail|failure notice"
    r"|mail delivery (failed|subsystem)|could not send|non[- ]?delivery|delayed mail)",
    re.IGNORECASE,
)
_MSGID_LINE = re.compile(r"^\s*message-id:\s*(<[^>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z-]+):\s*(.*)$")


@dataclass
class BounceInfo:
    action: str  # failed | delayed
    original_ids: list[str] = field(default_factory=list)  # normalised, no brackets
    recipients: list[str] = field(default_factory=list)
    status: str | None = None
    diagnostic: str | None = None
    is_dsn: bool = False  # a standard multipart/report, not a guess from the text


def looks_like_bounce(msg: Message, sender: str | None, subject: str) -> bool:
    """A delivery report by structure (RFC 3464), or by the signs non-standard MTAs
    leave: a daemon or null sender together with a bounce subject or returned mail.
    A daemon's mail without those signs is not taken for a bounce (nor answered)."""
    try:
        ctype = msg.get_content_type()
        if ctype == "multipart/report":
            return (msg.get_param("report-type") or "").lower() == "delivery-status"
        types = {p.get_content_type() for p in _parts(msg)}
    except Exception:  # noqa: BLE001 - broken Content-Type parameters
        return False
    if "message/delivery-status" in types or header(msg, "X-Failed-Recipients"):
        return True
    daemon = (sender or "").split("@", 1)[0].lower() in _DAEMONS
    null_sender = header(msg, "Return-Path").strip() == "<>"
    if not (daemon or null_sender):
        return False
    returned = bool(types & {"message/rfc822", "text/rfc822-headers"})
    return returned or bool(_BOUNCE_SUBJECT.search(subject))


def bounce_info(msg: Message, raw_text: str, own_id: str | None) -> BounceInfo:
    """What the bounce says: which of our messages, which recipients, why."""
    ids: list[str] = []
    recipients: list[str] = []
    actions: list[str] = []
    status = diagnostic = None
    is_dsn = False
    for part in _parts(msg):
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            is_dsn = True
            for block in _status_blocks(part):
                rcpt = block.get("final-recipient") or block.get("original-recipient")
                if rcpt:
                    recipients.append(one_line(rcpt.split(";", 1)[-1], 320))
                if block.get("action"):
                    actions.append(block["action"].strip().lower())
                status = status or block.get("status")
                diagnostic = diagnostic or block.get("diagnostic-code")
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            ids += _ids_in_enclosed(part)
    for value in _MSGID_LINE.findall(raw_text):
        ids.append(value)
    for name in ("In-Reply-To", "References"):
        ids += re.findall(r"<[^>\s]{1,500}>", header(msg, name, 8000))
    for addr in header(msg, "X-Failed-Recipients").split(","):
        if addr.strip():
            recipients.append(one_line(addr, 320))
    norm = [n for n in (normalise_id(i) for i in ids) if n and n != own_id]
    if actions and all(a.startswith("delay") for a in actions):
        action = "delayed"
    elif not actions and re.search(r"\bdelayed\b|still being retried|will be retried",
                                   raw_text[:4000], re.IGNORECASE):
        action = "delayed"
    else:
        action = "failed"
    return BounceInfo(
        action=action,
        original_ids=list(dict.fromkeys(norm)),
        recipients=list(dict.fromkeys(recipients)),
        status=one_line(status, 40) if status else None,
        diagnostic=one_line(diagnostic, 500) if diagnostic else None,
        is_dsn=is_dsn,
    )


def _parts(msg: Message, depth: int = 0) -> list[Message]:
    out = [msg]
    if depth > 20 or not msg.is_multipart():
        return out
    payload = msg.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                out += _parts(sub, depth + 1)
    return out


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-recipient field blocks of a message/delivery-status part, whichever
    way the email package stored it (parsed sub-messages, or raw text)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list) and payload:
        for sub in payload:
            if isinstance(sub, Message):
                blocks.append({k.lower(): one_line(str(v), 1000) for k, v in sub.raw_items()})
        return blocks
    text = payload if isinstance(payload, str) else ""
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        m = _FIELD.match(line)
        if m:
            current[m.group(1).lower()] = m.group(2)
    if current:
        blocks.append(current)
    return blocks


def _ids_in_enclosed(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list):
        found = []
        for sub in payload:
            if isinstance(sub, Message) and header(sub, "Message-ID"):
                found.append(header(sub, "Message-ID"))
        return found
    if isinstance(payload, str):
        return _MSGID_LINE.findall(payload)
    return []
