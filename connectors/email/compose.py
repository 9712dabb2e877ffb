"""Outgoing mail: rendered from Jinja2 templates (Indonesian by default), threaded
under the citizen's own messages, and marked so that no machine answers it.

Pure: builds `email.message.Message` objects; sending is `smtp.py`'s job.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email import charset as _charset
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from connectors.email.textual import one_line

TEMPLATES = Path(__file__).with_name("templates")
MAX_REFERENCES = 20
_UTF8_QP = _charset.Charset("utf-8")
_UTF8_QP.body_encoding = _charset.QP  # readable in raw form, safe for 7-bit relays


class Composer:
    def __init__(self, from_address: str, from_name: str | None, language: str = "id",
                 status_url: str | None = None):
        self.from_address = from_address
        self.from_name = from_name
        self.language = language
        self.status_url = status_url
        self.domain = from_address.rsplit("@", 1)[-1]
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=False,
            undefined=StrictUndefined, keep_trailing_newline=True,
        )

    def message_id(self, ticket_number: str | None, kind: str, outbox_id: int) -> str:
        """Deterministic per outbox row: a retried send reuses the id, so a mail sent
        twice (crash after the server accepted it) threads and dedupes as one."""
        token = hashlib.sha1(
            f"{self.from_address}|{ticket_number}|{kind}|{outbox_id}".encode()
        ).hexdigest()[:12]
        return f"{(ticket_number or 'msg').lower()}.{kind}.{outbox_id}.{token}@{self.domain}"

    def build(
        self, template: str, *, to: str, message_id: str, thread_ids: list[str],
        language: str | None = None, auto: bool, **context: Any,
    ) -> Message:
        """Render `template` (first line `Subject: ...`) into a threaded message.

        `thread_ids` are the citizen's message ids, oldest first; the newest is the
        one we answer (In-Reply-To), all of them form References."""
        lang = language if language in ("id", "en") else self.language
        for key in ("subject", "name", "staff"):  # they reach header lines: one line each
            if isinstance(context.get(key), str):
                context[key] = one_line(context[key], 200)
        context.setdefault("agency", self.from_name or self.from_address)
        context.setdefault("status_url", self._status_url(context.get("ticket_number")))
        rendered = self.env.get_template(f"{template}.{lang}.txt").render(**context)
        first, _, body = rendered.partition("\n")
        subject = one_line(first.removeprefix("Subject:"), 250)
        # compat32 construction: policy.default's header registry costs ~1 ms a header,
        # which made composing an acknowledgement 10x slower than sending it.
        msg = Message()
        msg["From"] = formataddr((self.from_name or "", self.from_address), charset="utf-8")
        msg["To"] = to
        msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        msg["Message-ID"] = f"<{message_id}>"
        msg["Date"] = format_datetime(_now())
        refs = [i for i in thread_ids if i][-MAX_REFERENCES:]
        if refs:
            msg["In-Reply-To"] = f"<{refs[-1]}>"
            msg["References"] = " ".join(f"<{i}>" for i in refs)
        if auto:
            # RFC 3834: machines must not answer this; Exchange reads the other one.
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Auto-Response-Suppress"] = "All"
        if context.get("ticket_number"):
            msg["X-Aduan-Ticket"] = str(context["ticket_number"])
        msg["MIME-Version"] = "1.0"
        msg.set_payload(body.lstrip("\n"), _UTF8_QP)
        return msg

    def _status_url(self, ticket_number: Any) -> str | None:
        if not self.status_url or not ticket_number:
            return None
        return f"{self.status_url.rstrip('/')}/status/{ticket_number}"


def _now() -> datetime:
    return datetime.now(UTC)
