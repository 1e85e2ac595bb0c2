"""Shadows on disk: one SQLite row per shadow, holding its `StoredShadow` JSON.

The database is opened as every database of the state directory is (swan.adapters.sqlite:
WAL, a committed write survives the process being killed, a damaged file or a newer schema
refused by name). Each `put` is its own transaction, and it is committed before `put`
returns. So whatever the service publishes after a `put` is on disk.

A deleted shadow keeps its row, and its version, so that recreating it continues the version
numbers as AWS does. One connection is shared by the service's threads, under a lock.

The store holds an exclusive lock on the file for as long as it is open. Reads are served
from a write-through cache, which is correct only because nothing else can write the file.
The lock also refuses a second shadow service on the same database. The lock is released
when the process ends, however it ends.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Final, Protocol, Self

from swan.adapters.sqlite import Database, DatabaseError, Schema
from swan.core.errors import InvalidPayloadError
from swan.local.core.shadow import ShadowKey, StoredShadow

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

CLASSIC: Final = ""  # the shadow-name column of a thing's classic shadow
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"))
CACHE_SIZE: Final = 4096  # shadows kept in memory; the oldest entry makes room
LOCK_WAIT_MS: Final = 1000  # how long to wait for another owner to let go of the file

SCHEMA: Final = Schema(
    version=1,
    create=(
        """CREATE TABLE IF NOT EXISTS shadows (
            thing    TEXT    NOT NULL,
            name     TEXT    NOT NULL,  -- '' for the classic shadow
            live     INTEGER NOT NULL,  -- 0 once deleted; the row keeps the version
            document TEXT    NOT NULL,  -- StoredShadow.to_json()
            PRIMARY KEY (thing, name)
        ) WITHOUT ROWID""",
    ),
)


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


class ShadowStoreError(DatabaseError):
    """The database file cannot be opened, read or written, or holds what is no shadow: it
    names the file."""

    what = "shadow database"


class SqliteShadowStore:
    """A `ShadowStore` in one SQLite file."""

    def __init__(self, path: Path, *, cache_size: int = CACHE_SIZE) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], StoredShadow | None] = {}
        self._cache_size = cache_size
        # Exclusive: the store serves reads from its cache, right only while nothing else
        # writes the file; a second shadow service on it is refused.
        self._database = Database(
            path, SCHEMA, error=ShadowStoreError, busy_timeout_ms=LOCK_WAIT_MS, exclusive=True
        )

    # ---------------------------------------------------------------- the port

    def get(self, key: ShadowKey) -> StoredShadow | None:
        columns = _columns(key)
        with self._lock:
            if columns in self._cache:
                return self._cache[columns]
            with self._database.errors() as db:
                row = db.execute(
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
            with self._database.errors() as db:
                db.execute(
                    "INSERT OR REPLACE INTO shadows (thing, name, live, document)"
                    " VALUES (?, ?, ?, ?)",
                    (*columns, int(not shadow.deleted), document),
                )
            self._remember(columns, shadow)

    def list_named(self, thing: str) -> list[str]:
        with self._lock, self._database.errors() as db:
            rows = db.execute(
                "SELECT name FROM shadows WHERE thing = ? AND name != ? AND live ORDER BY name",
                (thing, CLASSIC),
            ).fetchall()
        return [name for (name,) in rows]

    def close(self) -> None:
        with self._lock:
            self._database.close()

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


def _columns(key: ShadowKey) -> tuple[str, str]:
    return key.thing, CLASSIC if key.name is None else key.name


def _describe(key: ShadowKey) -> str:
    return key.thing if key.name is None else f"{key.thing}/{key.name}"
