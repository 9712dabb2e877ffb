"""Password hashes: scrypt from the standard library at OWASP's current parameters.

Why scrypt and not argon2: it is in Python's standard library (through OpenSSL), so
no compiled dependency is added, every hash this project has ever written is scrypt,
and OWASP's Password Storage Cheat Sheet lists scrypt with N=2^17, r=8, p=1 as a
recommended setting (argon2id comes first, but buys nothing decisive here).

Format: `scrypt$ln=17,r=8,p=1$<salt hex>$<hash hex>`. Hashes written before the
parameters were raised (`scrypt$<salt hex>$<hash hex>`, N=2^14) still verify, and
`needs_rehash` tells a successful login to store a new one.

One hash takes about 0.5 s and 128 MiB: callers run it in a thread, and at most
`MAX_PARALLEL` run at once so a burst of logins cannot exhaust memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

LOG2_N, R, P = 17, 8, 1
MAX_PARALLEL = 2
_slots = threading.BoundedSemaphore(MAX_PARALLEL)


@dataclass(frozen=True)
class Params:
    log2_n: int
    r: int
    p: int

    def encode(self) -> str:
        return f"ln={self.log2_n},r={self.r},p={self.p}"


CURRENT = Params(LOG2_N, R, P)
LEGACY = Params(14, 8, 1)


def _scrypt(password: str, salt: bytes, params: Params, dklen: int = 32) -> bytes:
    n = 1 << params.log2_n
    with _slots:
        return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n,
                              r=params.r, p=params.p, maxmem=256 * n * params.r + (1 << 20),
                              dklen=dklen)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, CURRENT)
    return f"scrypt${CURRENT.encode()}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> tuple[Params, bytes, bytes] | None:
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            return LEGACY, bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        if len(parts) == 4 and parts[0] == "scrypt":
            fields = dict(kv.split("=", 1) for kv in parts[1].split(","))
            params = Params(int(fields["ln"]), int(fields["r"]), int(fields["p"]))
            if not (10 <= params.log2_n <= 20 and 1 <= params.r <= 32 and 1 <= params.p <= 16):
                return None
            return params, bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
    except (ValueError, KeyError):
        return None
    return None


def verify_password(password: str, stored: str | None) -> bool:
    parsed = _parse(stored) if stored else None
    if parsed is None:
        return False
    params, salt, digest = parsed
    if not 16 <= len(digest) <= 128:
        return False
    return hmac.compare_digest(_scrypt(password, salt, params, len(digest)), digest)


def needs_rehash(stored: str | None) -> bool:
    parsed = _parse(stored) if stored else None
    return parsed is None or parsed[0] != CURRENT


def burn_time(password: str) -> None:
    """The work of one verification, for unknown users (no timing difference)."""
    _scrypt(password, b"\0" * 16, CURRENT)
