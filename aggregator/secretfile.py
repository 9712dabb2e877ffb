"""Secrets the service makes for itself on a fresh machine, kept in the data folder.

The bundled config.yaml must start with no environment at all (`pip install . &&
aggregator run`), yet a secret that ships with the code is known to everyone. So the
bundled config says `secret: ${LAPOR_SECRET:-generate}`: without LAPOR_SECRET, the
first start writes 32 random bytes (hex) to `<data_dir>/secrets/<connector>.secret`
(folder 700, file 600) and logs once where it is and how to sign a test report.
Later starts, and other replicas on the same folder, read the same file.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from storage.files import private_dir, tighten

log = logging.getLogger("aggregator.secrets")

MIN_LENGTH = 16


def generated_secret(path: Path, hook_url: str | None = None) -> str:
    """The secret kept in `path`, made (atomically, mode 600) if it is not there yet.
    `hook_url`: the webhook it signs (the log line then says how to sign a test)."""
    private_dir(path.parent)
    if not path.exists():
        value = secrets.token_hex(32)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (value + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process got there first
        except FileExistsError:
            pass
        else:
            if hook_url is None:
                log.info("generated a secret in %s (mode 600)", path,
                         extra={"secret_file": str(path)})
            else:
                _announce(path, hook_url)
        finally:
            tmp.unlink(missing_ok=True)
    tighten(path)
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_LENGTH:
        raise OSError(f"{path}: the secret in this file is shorter than {MIN_LENGTH} "
                      "characters; delete the file to have a new one generated")
    return value


def _announce(path: Path, hook_url: str) -> None:
    sign = (
        "body='{\"id\":\"test-1\",\"text\":\"Lampu jalan mati\"}'; ts=$(date +%s); "
        f"sig=$(printf '%s.%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac \"$(cat {path})\""
        " | sed 's/^.* //'); "
        "curl -H 'Content-Type: application/json' -H \"X-Aggregator-Timestamp: $ts\" "
        f"-H \"X-Aggregator-Signature: sha256=$sig\" -d \"$body\" {hook_url}"
    )
    log.warning(
        "generated a webhook secret in %s (mode 600) because the config says "
        "`secret: generate`; give it to the sender, or set your own secret in the "
        "environment. Sign a test report with: %s", path, sign,
        extra={"secret_file": str(path)},
    )
