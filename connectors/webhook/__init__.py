"""LAPOR-style webhook connector: signed, idempotent intake from national portals,
SMS gateways and web forms, with status callbacks back to the source."""

from connectors.webhook.connector import WebhookConnector
from connectors.webhook.settings import WebhookSettings

__all__ = ["WebhookConnector", "WebhookSettings"]
