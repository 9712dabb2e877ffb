"""Reading header fields of hostile mail without ever raising. Pure functions.

Messages are parsed with `compat32` (linear, raw header values); the few headers we
read are decoded here by `policy.default`'s header registry on a length-bounded raw
value, falling back to `email.header.decode_header` when that raises, with 8-bit
bytes repaired and control characters removed.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message

from connectors.email.textual import clean, decode_bytes, one_line, repair_surrogates

_ID_TOKEN = re.compile(r"<([^<>\s]{1,998})>")
MAX_ID = 500
RAW_MAX = 64_000
_LOOSE_ADDR = re.compile(
    r"(?<![\w.+'-])[\w.+'-]{1,64}@[\w-]{1,63}(\.[\w-]{1,63}){1,3}(?![\w.-])")
_HEADERS = policy.default.header_factory


def header(msg: Message, name: str, limit: int = 2000) -> str:
    """The decoded value of the first `name` header, '' when absent or hopeless."""
    raw = raw_header(msg, name)
    return _decode(name, raw, limit) if raw else ""


def header_all(msg: Message, name: str, limit: int = 4000) -> list[str]:
    values = [repair_surrogates(str(v)) for k, v in msg.raw_items() if k.lower() == name.lower()]
    return [_decode(name, v, limit) for v in values if v]


def raw_header(msg: Message, name: str, *, tail: bool = False) -> str:
    """The undecoded value, cut to RAW_MAX (for ids and dates, decoding only hurts);
    `tail` keeps the end instead (References: the newest ids come last)."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            text = value if isinstance(value, str) else str(value)
            return repair_surrogates(text[-RAW_MAX:] if tail else text[:RAW_MAX])
    return ""


def _decode(name: str, raw: str, limit: int) -> str:
    """RFC 2047 decoding by policy.default's header registry, on a bounded value:
    its parser is quadratic, and a 640 KB Subject took 38 s to read."""
    raw = raw[: max(limit * 4, 1000)]
    try:
        text = str(_HEADERS(name, raw.replace("\r", "").replace("\n", " ")))
    except Exception:  # noqa: BLE001 - the header parser raises many things
        text = _raw_decoded(raw)
    return one_line(repair_surrogates(text), limit)


def decode_words(raw: str) -> str:
    """RFC 2047 encoded words in a non-header string (some clients put them in
    attachment file names)."""
    return _raw_decoded(raw)


def _raw_decoded(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # noqa: BLE001 - unknown charsets, broken base64
        parts = []
        try:
            for chunk, charset in decode_header(raw):
                parts.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
            return "".join(parts)
        except Exception:  # noqa: BLE001
            return raw


def normalise_id(value: str | None) -> str | None:
    """A Message-ID as we store it: the part inside the angle brackets, no spaces."""
    if not value:
        return None
    value = repair_surrogates(value)
    m = _ID_TOKEN.search(value)
    token = m.group(1) if m else "".join(value.split()).strip("<>")
    token = clean(token)
    if not token:
        return None
    if len(token) > MAX_ID:
        return "long." + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    return token


def ids_in(value: str) -> list[str]:
    """Every Message-ID in an In-Reply-To / References value, in order."""
    found = [normalise_id(f"<{t}>") for t in _ID_TOKEN.findall(repair_surrogates(value))]
    return [f for f in found if f]


def address(msg: Message, name: str) -> tuple[str | None, str | None]:
    """(display name, lowercase address) of a From-like header; address None if unusable."""
    value = header(msg, name, 2000)
    if not value:
        return None, None
    try:
        display, addr = email.utils.parseaddr(value)
    except Exception:  # noqa: BLE001
        display, addr = "", ""
    addr = addr.strip().lower()
    if not re.fullmatch(r"[^@\s<>,;]{1,64}@[^@\s<>,;]{1,255}", addr):
        # The header registry "repairs" some broken forms into odd quoted ones;
        # the raw value usually still holds a plain address.
        raw = _raw_decoded(raw_header(msg, name)[:4000])
        m = _LOOSE_ADDR.search(raw) or _LOOSE_ADDR.search(value)
        addr = m.group(0).lower() if m else ""
    display = one_line(display, 200) or None
    return display, (addr or None)


def addresses(msg: Message, name: str, limit: int = 20) -> list[str]:
    try:
        pairs = email.utils.getaddresses(header_all(msg, name))
    except Exception:  # noqa: BLE001
        return []
    return [one_line(a.lower(), 320) for _, a in pairs if "@" in a][:limit]


def date(msg: Message) -> datetime | None:
    raw = raw_header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except Exception:  # noqa: BLE001 - bad dates are common
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not 1990 <= when.year <= 2100:
        return None
    return when
