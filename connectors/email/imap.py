"""The blocking IMAP side: one `FolderSession` per folder, always used from that
folder's own single worker thread (imaplib is not thread-safe).

It knows IMAP and nothing about tickets: connect and select, list new UIDs, fetch a
batch (with BODY.PEEK, so nothing is marked read before our commit) and parse it,
mark a batch done (\\Seen or MOVE), and wait for news with IDLE.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from connectors.email.parse import Limits, ParsedMail, parse_mail
from connectors.email.settings import ImapSettings

# What a broken connection or a refusing server raises; anything else is a bug.
IMAP_ERRORS: tuple[type[BaseException], ...] = (
    OSError, socket.timeout, ssl.SSLError, imaplib.IMAP4.error, IMAPClientError, EOFError,
)
IDLE_RENEW = 25 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes


@dataclass
class Fetched:
    uid: int
    mail: ParsedMail


class FolderSession:
    def __init__(self, settings: ImapSettings, folder: str, stop: threading.Event,
                 limits: Limits, max_message_bytes: int, processed_folder: str | None):
        self.settings = settings
        self.folder = folder
        self.stop = stop
        self.limits = limits
        self.max_message_bytes = max_message_bytes
        self.processed_folder = processed_folder
        self.client: IMAPClient | None = None
        self.can_idle = False
        self.can_move = False

    # ------------------------------------------------------------------ connection

    def connect(self) -> int:
        """Log in and select the folder; returns its UIDVALIDITY."""
        self.close()
        s = self.settings
        context = s.ssl_context() if s.security != "plain" else None
        client = IMAPClient(s.host, port=s.effective_port, ssl=s.security == "tls",
                            ssl_context=context, timeout=s.timeout)
        try:
            if s.security == "starttls":
                client.starttls(context)
            client.login(s.username, s.password.get_secret_value())
            caps = client.capabilities()
            self.can_idle = s.idle and b"IDLE" in caps
            self.can_move = b"MOVE" in caps
            if self.processed_folder and not client.folder_exists(self.processed_folder):
                client.create_folder(self.processed_folder)
            info = client.select_folder(self.folder)
        except BaseException:
            _quietly(client.logout)
            raise
        self.client = client
        return int(info[b"UIDVALIDITY"])

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _quietly(client.logout)

    def _c(self) -> IMAPClient:
        if self.client is None:
            raise ConnectionError("not connected")
        return self.client

    # ------------------------------------------------------------------ reading

    def uids_after(self, last_uid: int) -> list[int]:
        # `N:*` always matches the highest UID, even when it is <= N: filter.
        found = self._c().search(["UID", f"{last_uid + 1}:*"])
        return sorted(u for u in found if u > last_uid)

    def existing(self, uids: list[int]) -> list[int]:
        if not uids:
            return []
        found = self._c().search(["UID", ",".join(str(u) for u in uids)])
        return sorted(set(found) & set(uids))

    def fetch(self, uids: list[int]) -> tuple[list[Fetched], int]:
        """Fetch and parse a prefix of `uids` that fits the batch limits; returns the
        parsed mails and how many UIDs of `uids` were consumed (a UID that vanished
        meanwhile counts as consumed and simply yields nothing)."""
        client = self._c()
        head = uids[: self.settings.batch_size]
        sizes = {u: int(d.get(b"RFC822.SIZE", 0))
                 for u, d in client.fetch(head, ["RFC822.SIZE"]).items()}
        take: list[int] = []
        total = 0
        for uid in head:
            size = min(sizes.get(uid, 0), self.max_message_bytes)
            if take and total + size > self.settings.batch_bytes:
                break
            take.append(uid)
            total += size
        whole = [u for u in take if u in sizes and sizes[u] <= self.max_message_bytes]
        big = [u for u in take if u in sizes and sizes[u] > self.max_message_bytes]
        out: dict[int, Fetched] = {}
        if whole:
            for uid, data in client.fetch(whole, ["BODY.PEEK[]"]).items():
                raw = data.get(b"BODY[]")
                if isinstance(raw, bytes):
                    out[uid] = Fetched(uid, parse_mail(raw, self.limits))
        if big:  # too big to read: its header is enough to say so to staff
            for uid, data in client.fetch(big, ["BODY.PEEK[HEADER]"]).items():
                raw = data.get(b"BODY[HEADER]") or b""
                out[uid] = Fetched(uid, parse_mail(raw, self.limits, size=sizes[uid],
                                                   headers_only=True))
        return [out[u] for u in take if u in out], len(take)

    # ------------------------------------------------------------------ writing

    def mark_done(self, uids: list[int]) -> None:
        """After commit: flag \\Seen, or move to the processed folder."""
        if not uids:
            return
        client = self._c()
        if not self.processed_folder:
            client.add_flags(uids, [b"\\Seen"], silent=True)
            return
        if self.can_move:
            client.move(uids, self.processed_folder)
            return
        client.copy(uids, self.processed_folder)
        client.add_flags(uids, [b"\\Deleted", b"\\Seen"], silent=True)
        client.uid_expunge(uids)

    # ------------------------------------------------------------------ waiting

    def wait_idle(self, seconds: float) -> bool:
        """IDLE until the server reports new mail, `seconds` pass, or stop is set.
        Returns True when the server said something changed."""
        client = self._c()
        deadline = time.monotonic() + min(seconds, IDLE_RENEW)
        client.idle()
        news = False
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=1)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    news = True
                    break
        finally:
            client.idle_done()
        return news


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail any way
        pass
