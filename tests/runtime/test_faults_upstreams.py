"""Each upstream breaks in turn while citizens write on every channel.

One `aggregator run` with all four connectors; IMAP, SMTP, the Bot API, the X API and
the LAPOR callback target each sit behind a `FaultProxy`. For each upstream in turn
the proxy cycles through its failure modes (answers cut by a reset, garbage, the
protocol's "unavailable", a hang) while a message goes out on every channel each
round. During the fault /healthz must name the broken part, and the channels that do
not depend on it must keep storing reports and sending replies. After the last heal
every message sent during any fault must be stored exactly once and every
acknowledgement, bot reply and status callback must have gone out.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.email.dovecot import Dovecot
from tests.runtime.stack import CHANNELS, UPSTREAMS, Stack

# Twenty faults and their recoveries: longer than the suite's default per-test limit.
pytestmark = pytest.mark.timeout(300)
MODES = ("reset", "garbage", "error", "hang")
SEGMENT = 1.0  # seconds in each failure mode
HANG = 2.5  # longer than the clients' timeouts (2 s in the stack's config)
# What stops when an upstream is down: its intake channel (if any); the rest flows.
INTAKE = {"imap": "mail", "smtp": None, "telegram": "tg", "x": "x", "callback": None}



def degraded(upstream: str, health: dict[str, Any]) -> str | None:
    """What /healthz says about a broken upstream, or None when it looks fine."""
    conns, failing = health["connectors"], health["outbox"]["failing"]
    if upstream == "imap":
        folder = conns["mail"]["folders"]["INBOX"]
        return folder["last_error"] if not folder["connected"] and folder["errors"] else None
    if upstream == "smtp":
        return (failing.get("mail") or {}).get("last_error")
    if upstream == "telegram":
        tg = conns["tg"]
        if tg["state"] == "backoff" or tg["consecutive_failures"]:
            return tg["last_error"]
        return (failing.get("tg") or {}).get("last_error")
    if upstream == "x":
        bad = [q["last_error"] for q in conns["x"]["quota"].values()
               if q["consecutive_failures"]]
        return bad[0] if bad else None
    return (failing.get("lapor") or {}).get("last_error")


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.2)


async def all_stored(stack: Stack, channels: tuple[str, ...]) -> bool:
    stored = await stack.stored_tags()
    return all(set(stack.sent.tags[c]) <= set(stored[c]) for c in channels)


def replied(stack: Stack) -> bool:
    """Every chat got its ticket number from the bot."""
    return all(any("ADU-" in t for t in stack.bot.texts_to(chat))
               for chat in stack.sent.tg_chats)


def acknowledged(stack: Stack) -> bool:
    return all(stack.sink.to(addr) for addr in stack.sent.mail_from)


def called_back(stack: Stack) -> bool:
    assert stack.receiver is not None
    replies = [c for c in stack.receiver.accepted if c["body"]["event"] == "reply"]
    return len(replies) >= len(stack.sent.replies)


async def break_one(stack: Stack, upstream: str) -> dict[str, list[str]]:
    """Break one upstream every way in turn while all channels carry traffic, then
    heal it; returns, per mode, what /healthz said."""
    proxy = stack.proxies[upstream]
    evidence: dict[str, list[str]] = {m: [] for m in (*MODES, "healing")}

    async def look(mode: str) -> bool:
        if (seen := degraded(upstream, await stack.healthz())) is not None:
            evidence[mode].append(seen)
            return False
        return True

    faulted_before = proxy.faulted
    for mode in MODES:
        proxy.set(mode)
        end = time.monotonic() + (HANG if mode == "hang" else SEGMENT)
        while time.monotonic() < end:
            await stack.round()
            await look(mode)
            await asyncio.sleep(0.1)
    # Still broken: the channels that do not need this upstream have kept up.
    flowing = tuple(c for c in CHANNELS if c != INTAKE[upstream])
    await until(lambda: all_stored(stack, flowing), 10,
                f"{flowing} to keep ingesting while {upstream} is down")
    if upstream != "telegram":
        await until(_sync(replied, stack), 10, f"bot replies while {upstream} is down")
    if upstream != "callback":
        await until(_sync(called_back, stack), 10, f"callbacks while {upstream} is down")
    assert proxy.faulted > faulted_before, f"{upstream}: the faults met no traffic"
    proxy.set("pass")

    # Healed: /healthz clears and the channel catches up, with no restart.
    async def recovered() -> bool:
        return await look("healing") and await all_stored(stack, CHANNELS)
    await until(recovered, 30, f"{upstream} to recover")
    return evidence


def _sync(check: Callable[[Stack], bool], stack: Stack) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check(stack)
    return run


async def test_each_upstream_fails_in_turn_nothing_is_lost(db_url: str, tmp_path: Path,
                                                           dovecot: Dovecot):
    stack = await Stack(db_url, tmp_path, dovecot).start()
    try:
        for _ in range(3):  # everything flows before the first fault
            await stack.round()
        await until(lambda: all_stored(stack, CHANNELS), 20, "the first reports")
        seen: dict[str, dict[str, list[str]]] = {}
        took: dict[str, float] = {}
        for upstream in UPSTREAMS:
            t0 = time.monotonic()
            seen[upstream] = await break_one(stack, upstream)
            took[upstream] = round(time.monotonic() - t0, 1)
        print("seconds per upstream", took)
        print("evidence", {(u, m): v[-1][:70] for u, e in seen.items() for m, v in e.items()
                           if v})
        for upstream in UPSTREAMS:
            assert any(seen[upstream][m] for m in MODES), (
                f"/healthz never showed {upstream} degraded: {await stack.healthz()}")
        # All healed: everything sent during the faults arrives, each exactly once.
        await until(lambda: all_stored(stack, CHANNELS), 40, "every report after healing")
        await until(_sync(acknowledged, stack), 40, "an e-mail acknowledgement for every mail")
        await until(_sync(replied, stack), 40, "a bot reply in every chat")
        try:
            await until(_sync(called_back, stack), 40, "a callback for every staff reply")
        except AssertionError:
            assert stack.receiver is not None
            raise AssertionError(f"{len(stack.sent.replies)} replies, receiver calls "
                                 f"{len(stack.receiver.calls)}, accepted "
                                 f"{len(stack.receiver.accepted)}, outbox "
                                 f"{await stack.outbox_states()}") from None

        async def settled() -> bool:
            states = await stack.outbox_states()
            return not any(state in ("pending", "dead") for _, state in states)
        await until(settled, 40, "the outbox to drain")
        stored = await stack.stored_tags()
        for channel in CHANNELS:
            twice = [t for t, n in Counter(stored[channel]).items() if n > 1]
            assert not twice, f"{channel}: stored more than once: {twice}"
            assert sorted(stored[channel]) == sorted(stack.sent.tags[channel])
        # A re-sent mail carries the Message-ID of the first try: one Message-ID for each
        # mail the reader gets (its acknowledgement; a reply or a "merged" notice too when
        # matching joined the citizen's report to another ticket).
        for addr in stack.sent.mail_from:
            ids: dict[tuple[str, str], set[str]] = {}
            for m in stack.sink.to(addr):
                text = m.get_body(preferencelist=("plain",))
                content = (str(m["Subject"]), text.get_content() if text else "")
                ids.setdefault(content, set()).add(str(m["Message-ID"]))
            assert ids and all(len(v) == 1 for v in ids.values()), (addr, ids)
        health: dict[str, Any] = {}

        async def healthy() -> bool:
            health.update(await stack.healthz())
            return all(degraded(u, health) is None for u in UPSTREAMS)
        try:
            await until(healthy, 20, "/healthz to clear")
        except AssertionError:
            raise AssertionError(f"still degraded: {health['connectors']['x']['quota']}, "
                                 f"{health['outbox']}, {health['connectors']['tg']}") from None
        assert stack.daemon is not None
        code, _ = await stack.daemon.terminate()
        assert code == 0
        print({c: len(v) for c, v in stack.sent.tags.items()})
    finally:
        await stack.close()
