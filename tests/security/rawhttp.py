"""A bare HTTP/1.1 client: sends bytes exactly as given (header values no proper
client would send included) and parses the answer."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def request(base_url: str, method: str, path: str, *, body: bytes = b"",
                  headers: dict[str, str | bytes] | None = None,
                  host: str | None = None) -> Answer:
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = [f"{method} {path} HTTP/1.1".encode(), f"Host: {host or url.netloc}".encode(),
                b"Connection: close", f"Content-Length: {len(body)}".encode()]
        for name, value in (headers or {}).items():
            raw = value if isinstance(value, bytes) else value.encode("utf-8")
            head.append(name.encode() + b": " + raw)
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(30):
            data = await reader.read()
    finally:
        writer.close()
    head_raw, _, rest = data.partition(b"\r\n\r\n")
    lines = head_raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    parsed = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        rest = _unchunk(rest)
    return Answer(status, parsed, rest)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out
