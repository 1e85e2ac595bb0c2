"""Files only this user can read: the one home of "make this private".

The state directory holds the registry (a CA's registration code among it), the shadows,
the history, schedules, keys, the broker's password file and logs. Other local users have
no business reading any of it, so it is 0700 and what it holds 0600, whatever the umask:
a mode passed to `open` or `mkdir` is only ever narrowed by the umask, and an existing file
keeps the mode it was created with, so each helper also sets the mode outright.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

PRIVATE_DIRECTORY: Final = 0o700
PRIVATE_FILE: Final = 0o600
# SQLite's side files. Its unix VFS creates each with the database file's own permissions
# (findCreateFileMode in os_unix.c), so a private database keeps them private;
# ones left by an older, wider database are narrowed here.
SQLITE_SIDE_FILES: Final = ("-wal", "-shm", "-journal")
# What only a Swan state directory holds: a directory with one of these, a directory in
# one (its broker/, logs/), or an empty one is ours to narrow; any other existing directory
# (a home, /tmp, /) is the user's, and left be.
STATE_MARKERS: Final = (
    "stack.json",
    "registry.db",
    "shadows.db",
    "history.db",
    "scheduler.db",
    "credentials.json",
    "cognito.db",
)

log = logging.getLogger(__name__)


def private_directory(path: Path) -> Path:
    """Create `path` (and its parents) if needed and make it 0700 when it is ours: made
    now, empty, or holding what a Swan state directory holds, and this user's.

    Anything else is left as it is, with a warning when others can read it: a directory
    given as `--state-dir` that already holds other things (a home, /tmp, /) is not ours to
    narrow. Parents that already exist are never touched.
    """
    existed = path.is_dir()
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    status = path.stat()
    if status.st_uid != os.geteuid() or (existed and not _ours(path, status.st_mode)):
        if stat.S_IMODE(status.st_mode) & 0o077:
            log.warning("%s is readable by other users; it is not ours to narrow", path)
        return path
    path.chmod(PRIVATE_DIRECTORY)
    return path


def _ours(path: Path, mode: int) -> bool:
    if mode & stat.S_ISVTX:  # a shared, sticky directory such as /tmp
        return False
    return not any(path.iterdir()) or any(
        (place / name).exists() for place in (path, path.parent) for name in STATE_MARKERS
    )


def open_private(path: Path, flags: int) -> int:
    """`os.open(path, flags)`, creating the file if need be, 0600 from its first byte."""
    descriptor = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)  # an existing file keeps its old mode otherwise
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` as 0600 from its first byte: a temporary file created 0600,
    then renamed over `path`, so no reader ever sees it wider or half written."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = open_private(temporary, os.O_WRONLY | os.O_EXCL)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def private_database(path: Path) -> Path:
    """Make an SQLite database private before it is opened: its directory 0700, the file
    created (empty, as SQLite takes a new database) or narrowed to 0600, and any side files
    narrowed too, so the -wal and -shm files SQLite creates next are 0600 as well.

    An existing database is narrowed by its name, never opened here: closing any descriptor
    of a file drops every POSIX lock this process holds on it, SQLite's included ("How To
    Corrupt An SQLite Database File", 2.2, https://www.sqlite.org/howtocorrupt.html). A
    process with the database open already (two functions sharing the history) would lose
    its shared lock; the next process to close the file would then take itself for the last
    one, checkpoint and reset the write-ahead log, and later commits here would be lost."""
    private_directory(path.parent)
    try:
        os.close(open_private(path, os.O_RDONLY | os.O_EXCL))  # new: nobody has it open
    except FileExistsError:
        path.chmod(PRIVATE_FILE)
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).chmod(PRIVATE_FILE)
    return path
