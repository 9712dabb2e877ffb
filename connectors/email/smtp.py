"""A small pool of long-lived SMTP connections (aiosmtplib), reopened when dropped.

A relay handles one transaction at a time per connection and each message costs four
round trips, so a few connections in parallel carry the outbox's concurrent sends;
connecting per message would cost more than the message.
"""

from __future__ import annotations

import asyncio
from email.message import Message
from email.policy import compat32

import aiosmtplib

from connectors.email.settings import SmtpSettings

_WIRE = compat32.clone(linesep="\r\n")


class PermanentFailure(Exception):
    """The relay refused every recipient for good (5xx): retrying will not help."""


class SmtpSender:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] | None = None
        self.sent = 0

    def _pool(self) -> asyncio.Queue[aiosmtplib.SMTP | None]:
        if self._idle is None:  # created lazily: needs the running loop
            self._idle = asyncio.Queue()
            for _ in range(self.settings.connections):
                self._idle.put_nowait(None)  # a slot, connected on first use
        return self._idle

    async def send(self, message: Message) -> None:
        raw = message.as_bytes(policy=_WIRE)
        rcpt = [str(message["To"])]
        pool = self._pool()
        client = await pool.get()
        try:
            for attempt in (1, 2):
                if client is None or not client.is_connected:
                    client = await self._connect()
                try:
                    await client.sendmail(self.settings.from_address, rcpt, raw)
                    self.sent += 1
                    return
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    codes = [r.code for r in exc.recipients]
                    if codes and all(500 <= c < 600 for c in codes):
                        raise PermanentFailure(str(exc)) from exc
                    raise
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError, OSError):
                    _close(client)
                    client = None
                    if attempt == 2:
                        raise
        finally:
            pool.put_nowait(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = s.ssl_context() if s.security != "plain" else None
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.effective_port, use_tls=s.security == "tls",
            start_tls=True if s.security == "starttls" else False,
            tls_context=context, timeout=s.timeout,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
        )
        await client.connect()
        return client

    async def close(self) -> None:
        pool, self._idle = self._idle, None
        if pool is None:
            return
        while not pool.empty():
            client = pool.get_nowait()
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except Exception:  # noqa: BLE001 - closing anyway
                    _close(client)


def _close(client: aiosmtplib.SMTP | None) -> None:
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
