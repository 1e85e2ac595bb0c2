"""SQLite, opened one way: the one home of how the state directory's databases are opened.

The registry, the shadows, the push history, the schedules and the local Cognito each keep
one SQLite file, and each is opened here, the same way:
- private: the file and its side files 0600 in a 0700 directory (swan.adapters.private_files);
- WAL journal with `synchronous=NORMAL`: a committed write survives the process being killed
  (SIGKILL); it may not survive a power cut, and nothing here promises that;
- a busy timeout: another process's write is waited for that long, then the store answers
  that the file is in use, rather than failing at once;
- a quick integrity check (`PRAGMA quick_check`): a damaged file is refused when opened, not
  half read later;
- a schema version in `PRAGMA user_version`: a new file (version 0, as SQLite makes it) gets
  the current schema; an older version is brought up to date by its migration, in the same
  transaction, so a migration is done whole or not at all; a newer version (a newer program's
  file) is refused, naming the file and both versions.

Connections are in autocommit mode: every statement is its own transaction, and
`Database.transaction()` makes one of several (BEGIN IMMEDIATE: a writer in another process
waits, none interleaves). Every sqlite3 error, when opening or later, becomes the store's own
`DatabaseError`, naming the file and saying what is wrong in words (not a database, in use).
The stores keep their own locks: a connection is shared by a store's threads under it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final

from swan.adapters.private_files import private_database
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS: Final = 5000
"""How long a statement waits for another connection to let go of the file, by default."""

_DAMAGED: Final = frozenset((sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT))
_IN_USE: Final = frozenset((sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))


class DatabaseError(SwanError, RuntimeError):
    """A database file cannot be opened, read or written: it names the file. Each store
    subclasses it, with `what` naming its database in the message."""

    what: ClassVar[str] = "database"

    def __init__(self, path: Path, problem: object) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{self.what} {path}: {problem}")


@dataclass(frozen=True)
class Schema:
    """A store's tables at `version`: `create` makes what is missing (IF NOT EXISTS), then
    `migrations[n]`, if the file was at version n, brings what was there up to date."""

    version: int
    create: tuple[str, ...]
    migrations: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


class Database:
    """One SQLite file, opened as the module says, with its errors raised as `error`.

    `exclusive`: hold the file's lock from the first write until closed (locking_mode
    EXCLUSIVE): no second owner, and no file locking per transaction.
    """

    def __init__(
        self,
        path: Path,
        schema: Schema,
        *,
        error: type[DatabaseError] = DatabaseError,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        exclusive: bool = False,
    ) -> None:
        self.path = path
        self._error = error
        try:
            private_database(path)
            self.connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
            )
        except (OSError, sqlite3.Error) as failure:
            raise error(path, failure) from failure
        try:
            self._prepare(schema, busy_timeout_ms=busy_timeout_ms, exclusive=exclusive)
        except sqlite3.Error as failure:
            self.connection.close()
            raise error(path, _explain(failure)) from failure
        except DatabaseError:
            self.connection.close()
            raise
        log.debug("database %s open", path)

    @contextmanager
    def errors(self) -> Iterator[sqlite3.Connection]:
        """The connection; an sqlite3 error inside becomes the store's error."""
        try:
            yield self.connection
        except sqlite3.Error as failure:
            raise self._error(self.path, _explain(failure)) from failure

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if anything inside raises."""
        with self.errors() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                # The error inside is what matters; a rollback that fails too (a closed
                # connection) has no transaction left to undo.
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()

    def _prepare(self, schema: Schema, *, busy_timeout_ms: int, exclusive: bool) -> None:
        db = self.connection
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if exclusive:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
        # Reading the header here is what tells a database from any other file.
        (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise self._error(self.path, f"cannot use WAL mode (got {mode!r})")
        db.execute("PRAGMA synchronous = NORMAL")
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise self._error(self.path, f"corrupt: {'; '.join(problems[:3])}")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version not in (0, schema.version, *schema.migrations):
            raise self._error(
                self.path, f"schema version {version}; this program reads {schema.version}"
            )
        with self.transaction():
            for statement in schema.create + tuple(schema.migrations.get(version, ())):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {int(schema.version)}")


def _explain(error: sqlite3.Error) -> str:
    """What an sqlite3 error means for the file, in words."""
    code = getattr(error, "sqlite_errorcode", None)
    if code in _DAMAGED:
        return f"not an SQLite database, or a damaged one ({error})"
    if code in _IN_USE:
        return f"in use by another process ({error})"
    return str(error)
