"""The data directory holds the SQLite database, its journal, the generated keys and the broker's
folders: readable by the Hub's own user only (0700; files 0600), whatever the process umask says.

An operator may point ``HUB_DATA_DIR`` at a folder the Hub does not own (a mounted volume); then the
mode cannot be set and the Hub runs on, with the folder as the operator made it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite makes its -wal and -shm files with the database file's mode; they are tightened too in
# case an earlier run left them wider.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing and make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change (see the module docstring)
        path.chmod(DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty if missing, with mode 0600 from the first byte; tighten it if it exists."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    with contextlib.suppress(OSError):
        path.chmod(FILE_MODE)


def private_sqlite(path: Path) -> None:
    """The database file 0600 before SQLite first opens it, and its side files too if present."""
    with contextlib.suppress(OSError):  # a folder that does not exist: SQLite will say so
        private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            with contextlib.suppress(OSError):
                side.chmod(FILE_MODE)


def write_private_text(path: Path, text: str) -> None:
    """Write a secret: the file is 0600 before its content is written."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
