"""Config schema of an `email` connector (one mailbox in, one SMTP relay out)."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aggregator.config import ConfigPath, ConnectorSettings, Secret, Section

Security = Literal["tls", "starttls", "plain"]


class TlsMixin(Section):
    # Verify the server certificate (against ca_file if given, else the system CAs).
    verify_tls: bool = True
    ca_file: ConfigPath | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class ImapSettings(TlsMixin):
    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default: 993 for tls, else 143
    security: Security = "tls"
    username: str
    password: Secret
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    # Use IMAP IDLE where the server offers it; otherwise poll every poll_interval s.
    idle: bool = True
    poll_interval: float = Field(60.0, gt=0)
    timeout: float = Field(60.0, gt=0)
    # Messages fetched (and committed) together; bigger batches = fewer round trips.
    batch_size: int = Field(100, ge=1, le=1000)
    batch_bytes: int = Field(20 * 1024 * 1024, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class SmtpSettings(TlsMixin):
    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default: 465 tls, 587 starttls, 25
    security: Security = "starttls"
    username: str | None = None
    password: Secret | None = None
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str | None = None
    timeout: float = Field(30.0, gt=0)
    # Connections kept open in parallel (the outbox sends concurrently).
    connections: int = Field(4, ge=1, le=32)

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"tls": 465, "starttls": 587}.get(self.security, 25)


class AttachmentSettings(Section):
    # Beyond these caps an attachment is recorded (name, size, hash) without its bytes.
    max_count: int = Field(10, ge=0)
    max_bytes: int = Field(10 * 1024 * 1024, ge=0)


class EmailSettings(ConnectorSettings):
    type: Literal["email"] = "email"
    imap: ImapSettings
    smtp: SmtpSettings | None = None  # without it, nothing is sent (intake only)
    # Move processed mail here; when unset, processed mail is flagged \Seen instead.
    processed_folder: str | None = None
    max_message_bytes: int = Field(25 * 1024 * 1024, gt=0)
    attachments: AttachmentSettings = AttachmentSettings()
    language: Literal["id", "en"] = "id"
    # Our own addresses (besides smtp.from_address): mail from them is never answered.
    own_addresses: list[str] = Field(default_factory=list)
    # At most this many acknowledgements per sender per hour: a last guard against
    # loops with auto-responders that ignore Auto-Submitted.
    max_acks_per_hour: int = Field(10, ge=0)

    @field_validator("own_addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [a.strip().lower() for a in value if a.strip()]

    @model_validator(mode="after")
    def _folders(self) -> EmailSettings:
        if self.processed_folder and self.processed_folder in self.imap.folders:
            raise ValueError("processed_folder must not be one of imap.folders")
        return self

    def our_addresses(self) -> frozenset[str]:
        own = set(self.own_addresses)
        if self.smtp is not None:
            own.add(self.smtp.from_address.lower())
        if "@" in self.imap.username:
            own.add(self.imap.username.lower())
        return frozenset(own)
