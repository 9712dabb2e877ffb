"""Small helpers around python-telegram-bot calls: 429 handling and keyboards.

Telegram answers a flood with 429 and `retry_after`; python-telegram-bot raises
`RetryAfter`. Outbox sends hand that back to the outbox (SendResult.retry_after);
inline answers (command replies, prompts) wait here a bounded time and retry, since
the update that asked for them is still being processed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, RetryAfter, TelegramError

# Opt in to PTB's future `timedelta` durations now: without it PTB 22 warns on every
# 429 it parses. `retry_seconds` accepts both forms anyway.
os.environ.setdefault("PTB_TIMEDELTA", "1")

log = logging.getLogger("connectors.telegram")
T = TypeVar("T")


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def call(
    make: Callable[[], Awaitable[T]], *, attempts: int = 3, max_wait: float = 30.0
) -> T | None:
    """Run one API call for an inline answer; None if it could not be delivered.

    Waits out a 429 (up to `max_wait` seconds each time), gives up quietly on a user
    who blocked the bot, logs anything else: an inline answer is a courtesy, the
    complaint is already stored by then."""
    for attempt in range(attempts):
        try:
            return await make()
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            if wait > max_wait or attempt == attempts - 1:
                log.warning("telegram asked to wait %.0fs; answer dropped", wait)
                return None
            await asyncio.sleep(wait)
        except Forbidden:
            return None  # the user blocked the bot
        except TelegramError as exc:
            log.warning("telegram call failed: %s", exc)
            return None
    return None


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback_data) buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label[:64], callback_data=data) for label, data in row]
         for row in rows]
    )
