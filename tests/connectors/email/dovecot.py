"""A throwaway Dovecot IMAP server on a free loopback port, for tests and the bench.

Why a real server: IDLE, UIDVALIDITY, BODY.PEEK and flag semantics are exactly what
the connector must get right, and a fake would only echo our own assumptions.
Runs as root with Dovecot's unprivileged users (imap-login refuses root) and mail
owned by `nobody`; paths stay short because Dovecot's unix sockets must.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "secret"


def available() -> str | None:
    """None when Dovecot can run here, else the reason it cannot."""
    if not os.path.exists(DOVECOT):
        return "dovecot is not installed (apt-get install -y dovecot-imapd)"
    if os.geteuid() != 0:
        return "the Dovecot fixture runs as root (it switches to dovecot/dovenull/nobody)"
    for user in ("dovecot", "dovenull", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"system user {user!r} is missing (install dovecot-imapd)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """One Dovecot process with many users; each test takes a fresh user (mailbox)."""

    def __init__(self, users: int = 200, tls: bool = False):
        self.users = users
        self.tls = tls  # STARTTLS on `port`, implicit TLS on `tls_port`
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.host = "127.0.0.1"
        self.dir = Path(tempfile.mkdtemp(prefix="dc", dir="/tmp"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._next = 0

    def start(self) -> Dovecot:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        os.chmod(self.dir, 0o755)
        mail = self.dir / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        lines = [
            f"u{i}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{mail}/u{i}" for i in range(self.users)
        ]
        (self.dir / "passwd").write_text("\n".join(lines) + "\n")
        ssl = "ssl = no"
        if self.tls:
            self._make_cert()
            ssl = (f"ssl = yes\nssl_cert = <{self.dir}/cert.pem\n"
                   f"ssl_key = <{self.dir}/key.pem")
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
info_log_path = {self.dir}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_max_userip_connections = 200
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
""")
        self._proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode()
                raise RuntimeError(f"dovecot exited: {err}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    @property
    def cert(self) -> Path:
        """The self-signed certificate (for 127.0.0.1): a test's ca_file."""
        return self.dir / "cert.pem"

    def _make_cert(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.dir / "key.pem"), "-out", str(self.cert)],
            check=True, capture_output=True,
        )
        os.chmod(self.dir / "key.pem", 0o644)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_user(self) -> str:
        if self._next >= self.users:
            raise RuntimeError("out of test mailboxes; raise Dovecot(users=...)")
        name = f"u{self._next}"
        self._next += 1
        return name

    def client(self, user: str) -> IMAPClient:
        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        c.login(user, PASSWORD)
        return c

    def append(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        """Deliver by IMAP APPEND (what an MTA's LDA would do, minus the MTA)."""
        with self.client(user) as c:
            if folder != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            for raw in messages:
                c.append(folder, raw)

    def uids(self, user: str, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            return sorted(c.search(criteria))

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {u: d[b"FLAGS"] for u, d in c.fetch(uids, ["FLAGS"]).items()}

    def raw_messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The mails as the server stores them (it may rewrite odd bytes, e.g. NUL)."""
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            uids = sorted(c.search("ALL"))
            data = c.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [data[u][b"BODY[]"] for u in uids]
