"""X (Twitter) mentions connector: `type: twitter` in config.yaml."""

from connectors.twitter.connector import TwitterConnector
from connectors.twitter.settings import TwitterSettings

__all__ = ["TwitterConnector", "TwitterSettings"]
