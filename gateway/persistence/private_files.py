"""The files omgw keeps on disk are private to the user it runs as.

The database holds password hashes, sealed secrets and every message; the wallet key
opens the secrets. So the home is created 0700 and every file omgw creates 0600: the
SQLite database, and with it its ``-wal`` and ``-shm`` files (SQLite gives them the
database file's mode), the writer gate, the wallet key. A file found open to others is
made private, with a warning; a home found open to others is only warned about, since
an admin may have chosen a shared directory.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "ensure_private_dir",
    "ensure_private_file",
    "open_to_others",
    "tighten",
]

log = logging.getLogger(__name__)

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def open_to_others(mode: int) -> bool:
    return bool(stat.S_IMODE(mode) & _OTHERS)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700; warn if it already exists
    and others may enter it."""
    try:
        path.mkdir(parents=True, mode=PRIVATE_DIR)  # the umask can only take bits away
        return
    except FileExistsError:
        pass
    mode = path.stat().st_mode
    if open_to_others(mode):
        log.warning(
            "%s is open to other users (mode %o); omgw's files in it are private (0600), "
            "but to keep their names private too run: chmod 700 %s",
            path,
            stat.S_IMODE(mode),
            path,
        )


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; else :func:`tighten` it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        tighten(path)


def tighten(path: Path) -> None:
    """Take group's and others' rights away from ``path`` if it exists and has any."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not open_to_others(mode):
        return
    private = stat.S_IMODE(mode) & ~_OTHERS
    try:
        path.chmod(private)
    except PermissionError:  # another user's file: say so, and leave it to its owner
        log.warning(
            "%s is open to other users (mode %o) and is not ours to change: run chmod %o %s",
            path,
            stat.S_IMODE(mode),
            private,
            path,
        )
        return
    log.warning(
        "%s was open to other users (mode %o); it is now %o", path, stat.S_IMODE(mode), private
    )
