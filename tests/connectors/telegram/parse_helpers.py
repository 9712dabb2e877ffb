"""Independent measures used by assertions (not the connector's own helpers)."""


def utf16(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2
