"""One long-lived SMTP connection (aiosmtplib), reopened when the server drops it.

Sends are serialised on it: a relay answers one transaction at a time per
connection anyway, and connecting per message costs more than the message.
"""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage

import aiosmtplib

from connectors.email.settings import SmtpSettings


class PermanentFailure(Exception):
    """The relay refused every recipient for good (5xx): retrying will not help."""


class SmtpSender:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self.sent = 0

    async def send(self, message: EmailMessage) -> None:
        async with self._lock:
            for attempt in (1, 2):
                client = await self._connected()
                try:
                    await client.send_message(message)
                    self.sent += 1
                    return
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    codes = [r.code for r in exc.recipients]
                    if codes and all(500 <= c < 600 for c in codes):
                        raise PermanentFailure(str(exc)) from exc
                    raise
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError, OSError):
                    await self._drop()
                    if attempt == 2:
                        raise

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        context = ssl.create_default_context() if s.security != "plain" else None
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.effective_port, use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False,
            tls_context=context, timeout=s.timeout,
            username=s.username, password=s.password,
        )
        await client.connect()
        self._client = client
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    async def close(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except Exception:  # noqa: BLE001
                    client.close()
