from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.telegram.fake_bot_api import FakeBotAPI


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI()
    await api.start()
    yield api
    await api.close()
