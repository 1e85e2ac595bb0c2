"""Shadows on disk: one SQLite row per shadow, holding its `StoredShadow` JSON.

The database runs in WAL mode with `synchronous=NORMAL`. A committed write survives the
process being killed (SIGKILL); it may not survive a power cut, and nothing here promises that.
Each `put` is its own transaction, and it is committed before `put` returns. So whatever the
service publishes after a `put` is on disk.

A deleted shadow keeps its row, and its version, so that recreating it continues the version
numbers as AWS does. One connection is shared by the service's threads, under a lock.

The store holds an exclusive lock on the file for as long as it is open. Reads are served
from a write-through cache, which is correct only because nothing else can write the file.
The lock also refuses a second shadow service on the same database. The lock is released
when the process ends, however it ends.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, Protocol, Self

from swan.adapters.private_files import private_database
from swan.core.errors import InvalidPayloadError, SwanError
from swan.local.core.shadow import ShadowKey, StoredShadow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import TracebackType

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
CLASSIC: Final = ""  # the shadow-name column of a thing's classic shadow
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"))
CACHE_SIZE: Final = 4096  # shadows kept in memory; the oldest entry makes room
LOCK_WAIT_MS: Final = 1000  # how long to wait for another owner to let go of the file

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS shadows (
    thing    TEXT    NOT NULL,
    name     TEXT    NOT NULL,  -- '' for the classic shadow
    live     INTEGER NOT NULL,  -- 0 once deleted; the row keeps the version
    document TEXT    NOT NULL,  -- StoredShadow.to_json()
    PRIMARY KEY (thing, name)
) WITHOUT ROWID
"""


class ShadowStore(Protocol):
    """Where the shadow service keeps shadows."""

    def get(self, key: ShadowKey) -> StoredShadow | None:
        """The stored shadow (possibly a deleted one), or None if it never existed."""
        ...

    def put(self, key: ShadowKey, shadow: StoredShadow) -> None:
        """Store `shadow` durably, replacing what was there."""
        ...

    def list_named(self, thing: str) -> list[str]:
        """The names of `thing`'s named shadows that exist (not deleted), sorted."""
        ...

    def close(self) -> None: ...


class ShadowStoreError(SwanError, RuntimeError):
    """The database file cannot be opened, read or written: it names the file."""

    def __init__(self, path: Path, problem: object) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"shadow database {path}: {problem}")


class SqliteShadowStore:
    """A `ShadowStore` in one SQLite file."""

    def __init__(self, path: Path, *, cache_size: int = CACHE_SIZE) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], StoredShadow | None] = {}
        self._cache_size = cache_size
        self._connection = self._open()

    # ---------------------------------------------------------------- the port

    def get(self, key: ShadowKey) -> StoredShadow | None:
        columns = _columns(key)
        with self._lock:
            if columns in self._cache:
                return self._cache[columns]
            with self._errors():
                row = self._connection.execute(
                    "SELECT document FROM shadows WHERE thing = ? AND name = ?", columns
                ).fetchone()
            shadow = None if row is None else self._decode(key, row[0])
            self._remember(columns, shadow)
        return shadow

    def put(self, key: ShadowKey, shadow: StoredShadow) -> None:
        # ASCII JSON: a lone surrogate ("\ud800" is valid JSON) cannot be encoded as UTF-8.
        document = _COMPACT.encode(shadow.to_json())
        columns = _columns(key)
        with self._lock:
            self._cache.pop(columns, None)  # forgotten first, in case the write fails
            with self._errors():
                self._connection.execute(
                    "INSERT OR REPLACE INTO shadows (thing, name, live, document)"
                    " VALUES (?, ?, ?, ?)",
                    (*columns, int(not shadow.deleted), document),
                )
            self._remember(columns, shadow)

    def list_named(self, thing: str) -> list[str]:
        with self._lock, self._errors():
            rows = self._connection.execute(
                "SELECT name FROM shadows WHERE thing = ? AND name != ? AND live ORDER BY name",
                (thing, CLASSIC),
            ).fetchall()
        return [name for (name,) in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- internals

    def _open(self) -> sqlite3.Connection:
        try:
            private_database(self.path)
            # Autocommit (isolation_level=None): every statement is its own transaction.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise ShadowStoreError(self.path, error) from error
        try:
            self._prepare(connection)
        except sqlite3.Error as error:
            connection.close()
            raise ShadowStoreError(self.path, _explain(error)) from error
        except ShadowStoreError:
            connection.close()
            raise
        log.debug("shadow database %s open", self.path)
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
        # Exclusive: no file locking per transaction, no shared-memory index, and one owner.
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        # Reading the header is what tells a database from any other file.
        (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise ShadowStoreError(self.path, f"cannot use WAL mode (got {mode!r})")
        connection.execute("PRAGMA synchronous = NORMAL")
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise ShadowStoreError(self.path, f"corrupt: {'; '.join(problems[:3])}")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise ShadowStoreError(
                self.path, f"schema version {version}; this program reads {SCHEMA_VERSION}"
            )
        # A write now takes the exclusive lock at once, so a second owner fails here.
        connection.execute(_SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _remember(self, columns: tuple[str, str], shadow: StoredShadow | None) -> None:
        if len(self._cache) >= self._cache_size:
            del self._cache[next(iter(self._cache))]
        self._cache[columns] = shadow

    def _decode(self, key: ShadowKey, document: str) -> StoredShadow:
        try:
            data = json.loads(document)
            if not isinstance(data, dict):
                raise InvalidPayloadError("stored shadow", "payload", "must be an object")
            return StoredShadow.from_json(data)
        except ValueError as error:  # bad JSON, or InvalidPayloadError
            problem = f"unreadable shadow {_describe(key)}: {error}"
            raise ShadowStoreError(self.path, problem) from error

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise ShadowStoreError(self.path, _explain(error)) from error


def _columns(key: ShadowKey) -> tuple[str, str]:
    return key.thing, CLASSIC if key.name is None else key.name


def _describe(key: ShadowKey) -> str:
    return key.thing if key.name is None else f"{key.thing}/{key.name}"


_DAMAGED: Final = frozenset((sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT))
_LOCKED: Final = frozenset((sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))


def _explain(error: sqlite3.Error) -> str:
    code = getattr(error, "sqlite_errorcode", None)
    if code in _DAMAGED:
        return f"not an SQLite database, or a damaged one ({error})"
    if code in _LOCKED:
        return f"in use by another process, e.g. another shadow service ({error})"
    return str(error)
