"""The real X connector against the fake X API, for the engagement stream end to end."""

from tests.connectors.twitter.conftest import fake_x, harness

__all__ = ["fake_x", "harness"]
