"""One real Dovecot for the runtime tests (crash loops, faults): each test takes fresh
mailboxes from it with `new_user()`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import server_missing
from tests.connectors.email.dovecot import Dovecot, available


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    reason = available()
    if reason:
        server_missing(reason)
    server = Dovecot(users=24).start()
    yield server
    server.stop()
