"""Private files: what the service creates on disk is readable by its own user only.

Folders we create get mode 700 and files 600, whatever the umask. Existing files of
ours are tightened at start (an older version left them 644); existing folders are
left alone unless we made them, because a database may sit in a shared folder such
as /tmp or a home directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents, each with mode 700."""
    if path.is_dir():
        return
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 600 if missing; tighten it if it is ours."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    tighten(path)


def tighten(path: Path) -> None:
    """chmod 600 an existing file we own whose group or others may read it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(path, FILE_MODE)
