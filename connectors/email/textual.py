"""Turning untrusted mail bytes into clean text. Pure functions, no I/O.

Every function here must return something for any input: a complaint with a broken
charset is still a complaint, so decoding falls back step by step down to latin-1
(which cannot fail) and replacement characters rather than raising.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

# Charset names seen in the wild that Python does not know, or knows by another name.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "x-windows-949": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
}
# Declared-ASCII mail very often carries UTF-8 or Windows-1252 bytes anyway.
_FALLBACKS = ("utf-8", "cp1252", "latin-1")


def lookup_charset(name: str | None) -> str | None:
    """A codec name Python can use for a declared charset, or None."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in ("rot-13", "base64", "hex", "zlib", "bz2", "uu", "quopri"):
        return None  # bytes-to-bytes codecs are not charsets
    return info.name


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode with the declared charset if it works strictly, else the fallbacks;
    a declared charset that mostly works still wins with replacement characters."""
    codec = lookup_charset(declared)
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly-UTF-8 with a few broken bytes is still UTF-8 (with replacement marks);
    # bytes that are mostly invalid as UTF-8 are probably a legacy 8-bit charset.
    lenient = data.decode("utf-8", "replace")
    bad = lenient.count("\ufffd")
    high = sum(b >= 0x80 for b in data)
    if high - bad >= bad:
        return lenient
    for fallback in _FALLBACKS[1:]:
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # pragma: no cover - latin-1 decodes every byte


def repair_surrogates(text: str) -> str:
    """Header values parsed from bytes keep raw 8-bit bytes as surrogate escapes;
    turn them back into bytes and decode those as best we can."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return clean(text)
    return decode_bytes(raw)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean(text: str, limit: int | None = None) -> str:
    """What every string we store goes through: no NULs (PostgreSQL refuses them),
    no lone surrogates (UTF-8 refuses them), no control characters, bounded length."""
    text = _CONTROL.sub(lambda m: "" if m.group() < "\x20" or m.group() == "\x7f" else "\ufffd",
                        text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def one_line(text: str, limit: int) -> str:
    return clean(" ".join(text.split()), limit)


# --------------------------------------------------------------------------- HTML


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
    _LINE = frozenset({"br", "li", "tr"})  # a new line before
    _BLOCK = frozenset({
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table",
        "blockquote", "pre", "hr", "ul", "ol", "section", "article", "header", "footer",
    })

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK or tag in self._LINE:
            self.parts.append("\n")
        elif tag == "td":
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK or tag in self._LINE:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail: scripts, styles and markup gone, blocks as lines."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient, but never trust it fully
        return re.sub(r"<[^>]*>", " ", html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- replies

# "On Mon, 1 Jan 2026 at 10:00, Budi <b@x.id> wrote:" and its Indonesian forms.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,200}\bwrote:?|pada\b.{0,200}\b(menulis|wrote):?"
    r"|.{0,200}\b(menulis|wrote)\s*:)\s*$",
    re.IGNORECASE,
)
_CUT = re.compile(
    r"^\s*(-{2,}\s*(original message|pesan asli|forwarded message|pesan terusan)\s*-{2,}"
    r"|_{10,}\s*$|-- \s*$|--\s*$)",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|dari)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|dikirim|tanggal|to|kepada)\s*:", re.IGNORECASE)
_MOBILE = re.compile(
    r"^\s*(sent from my \w+|dikirim dari \w+|get outlook for \w+|sent from (yahoo|mail) )",
    re.IGNORECASE,
)


def trim_reply(text: str) -> str:
    """The new words of a mail: quoted earlier mail, attribution lines, forwarded
    blocks and signatures removed. Falls back to the full text if nothing is left
    (a mail that is all quote is still worth reading in full)."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _CUT.match(line) or _MOBILE.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_NEXT.match(nxt) for nxt in lines[i + 1 : i + 4]
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        if _ATTRIBUTION.match(line) and _quote_follows(lines, i):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result or text.strip()


def _quote_follows(lines: list[str], i: int) -> bool:
    for nxt in lines[i + 1 : i + 4]:
        if nxt.strip():
            return nxt.lstrip().startswith(">")
    return True  # attribution as the last line: nothing of value after it
