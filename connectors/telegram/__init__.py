"""Telegram bot connector: the public's front door (complaints, /status, staff
replies, the IKM satisfaction survey). See connector.py for the delivery guarantees."""

from connectors.telegram.connector import TelegramConnector
from connectors.telegram.settings import TelegramSettings

__all__ = ["TelegramConnector", "TelegramSettings"]
