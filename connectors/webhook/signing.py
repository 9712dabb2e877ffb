"""The signature scheme, both ways (intake and callbacks). Pure functions, no I/O.

`X-Aggregator-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`
with `X-Aggregator-Timestamp: <unix seconds>`. Signing the timestamp with the body
means an old delivery cannot be re-sent with a fresh timestamp; the replay window
bounds how long a captured one stays usable, and ids make a replay inside it harmless.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

TIMESTAMP_HEADER = "X-Aggregator-Timestamp"
SIGNATURE_HEADER = "X-Aggregator-Signature"
PREFIX = "sha256="


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def sign_headers(secret: bytes, body: bytes, now: float) -> dict[str, str]:
    """Headers a sender (or our callback) puts on `body`."""
    ts = str(int(now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secrets: Iterable[bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    window: float,
) -> str | None:
    """None if the delivery is authentic and fresh, else why not (for the 401 body).

    The reason never says which part of a signature was wrong."""
    ts = headers.get(TIMESTAMP_HEADER, "").strip()
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not ts or not given:
        return "missing signature headers"
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        return "bad timestamp"
    if abs(now - int(ts)) > window:
        return "timestamp outside the replay window"
    # Several "sha256=..." values, comma separated, let a sender sign with two keys
    # while rotating; each is compared in constant time against each of our keys.
    candidates = [c.strip().encode("ascii", "replace") for c in given.split(",")][:4]
    ok = False
    for secret in secrets:
        expected = signature(secret, ts, body).encode("ascii")
        for cand in candidates:
            ok |= hmac.compare_digest(expected, cand)
    return None if ok else "bad signature"
