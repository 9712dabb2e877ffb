"""Email channel: IMAP intake (imapclient, in worker threads) and SMTP replies
(aiosmtplib). Entry point `email` -> `EmailConnector`."""

from connectors.email.connector import EmailConnector
from connectors.email.settings import EmailSettings

__all__ = ["EmailConnector", "EmailSettings"]
