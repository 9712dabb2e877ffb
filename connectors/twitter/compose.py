"""Text of the posts we make in public. Pure functions.

Public posts must never reveal personal data: templates may only use the ticket
number, the state and the pointer to a private channel (checked in settings.py), and
staff text is scrubbed of e-mail addresses and long digit runs (phone numbers, NIK)
before it goes out. X counts length with weights (twitter-text v3: most scripts 1, CJK
and emoji 2, every URL 23); a reply that does not fit is cut at a word and ends with a
pointer to the private channel.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHT = 280
URL_WEIGHT = 23
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"(?<![\w-])\+?\d(?:[\s.-]?\d){8,}(?![\w-])")
HIDDEN = "[disembunyikan]"
MORE = "… (selengkapnya: {private_channel})"

STATE_LABELS = {
    "new": "diterima",
    "in_progress": "sedang diproses",
    "waiting": "menunggu tanggapan pelapor",
    "resolved": "selesai ditangani",
    "closed": "ditutup",
}


def weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for match in _URL.finditer(text):
        total += _plain(text[pos:match.start()]) + URL_WEIGHT
        pos = match.end()
    return total + _plain(text[pos:])


def _plain(text: str) -> int:
    return sum(1 if any(lo <= ord(c) <= hi for lo, hi in _LIGHT) else 2 for c in text)


def redact(text: str) -> str:
    """Hide e-mail addresses and phone/ID-like numbers a staff reply may contain."""
    return _DIGITS.sub(HIDDEN, _EMAIL.sub(HIDDEN, text))


def render(template: str, **fields: str) -> str:
    return template.format(**fields).strip()


def public_reply(template: str, text: str, *, ticket_number: str, private_channel: str) -> str:
    """A staff reply as a public post, cut to fit with a pointer when too long."""
    text = " ".join(redact(text).split())
    full = render(template, text=text, ticket_number=ticket_number,
                  private_channel=private_channel)
    if weighted_length(full) <= MAX_WEIGHT:
        return full
    more = MORE.format(private_channel=private_channel)

    def with_cut(n: int) -> str:
        cut = text[:n]
        if n < len(text) and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        return render(template, text=cut.rstrip(" ,.;:") + more, ticket_number=ticket_number,
                      private_channel=private_channel)

    lo, hi = 0, len(text)  # largest n whose rendering fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if weighted_length(with_cut(mid)) <= MAX_WEIGHT:
            lo = mid
        else:
            hi = mid - 1
    return fit(with_cut(lo))


def public_notice(template: str, *, ticket_number: str, private_channel: str,
                  state: str | None = None) -> str:
    fields = {"ticket_number": ticket_number, "private_channel": private_channel}
    if state is not None:
        fields["state"] = STATE_LABELS.get(state, state)
    return fit(render(template, **fields))


def fit(text: str) -> str:
    """Last resort for templates that are too long on their own: cut at the limit."""
    if weighted_length(text) <= MAX_WEIGHT:
        return text
    while text and weighted_length(text + "…") > MAX_WEIGHT:
        text = text[:-1]
    return text + "…"
