"""Push history: every accepted push, numbered, even the ones coalesced into one shadow write.

The history is also where the per-principal rate limit is enforced (atomically with the
recording, so two pushes racing from one device cannot both pass) and where a redelivered
push request (same principal and clientToken, as MQTT QoS 1 may redeliver) is recognised.

And it keeps the button shadow's writer: AWS serves 20 shadow requests a second per thing,
reads and writes alike, so the push handlers must not each read the shadow. One handler at
a time holds the writer's claim and talks to the shadow; the others learn from history
whether a write already counts their push (`written`). SQLite here; DynamoDB on AWS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from swan.adapters.sqlite import Database, DatabaseError, Schema
from swan.core.countdown import Push, Refused
from swan.core.ratelimit import check_rate

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path


@dataclass(frozen=True)
class Recorded:
    """The push is in history as number `number`."""

    number: int


@dataclass(frozen=True)
class Duplicate:
    """The same request was recorded before, as number `number`."""

    number: int


@dataclass(frozen=True)
class Entry:
    number: int
    push: Push
    principal: str


class History(Protocol):
    def screen(
        self, at: float, *, principal: str, client_token: str | None, min_interval: float
    ) -> Duplicate | Refused | None:
        """What `record` would answer a push at `at`, read only: a redelivery (`Duplicate`),
        a refusal, or None (it would be recorded, unless another push wins the race). Cheap,
        so a principal pushing too fast is refused before anything reads the shadow."""
        ...

    def record(
        self, push: Push, *, principal: str, client_token: str | None, min_interval: float
    ) -> Recorded | Duplicate | Refused:
        """Record `push` unless the principal pushed less than `min_interval` ago."""
        ...

    def since(self, number: int) -> list[tuple[int, Push]]:
        """The pushes numbered after `number`, oldest first."""
        ...

    def recent(self, limit: int) -> list[Entry]:
        """The latest pushes, newest first."""
        ...

    def count(self, counter: str) -> None:
        """Add one to a named counter (e.g. malformed clicks)."""
        ...

    def written(self) -> int:
        """The highest push number a write of the button shadow is known to count."""
        ...

    def mark_written(self, number: int) -> None:
        """A shadow write counts every push up to `number` (never lowers what is known)."""
        ...

    def claim_writer(self, owner: str, *, now: float, hold: float) -> float | None:
        """Take the sole right to read and write the button shadow until `now + hold` (or
        until released): None when taken, else the time to ask again (another holds it, or
        the last holder asked that nobody write before then)."""
        ...

    def release_writer(self, owner: str, *, not_before: float) -> None:
        """Give the claim back; nobody may take it before `not_before`."""
        ...

    def counters(self) -> dict[str, int]: ...


class HistoryUnavailableError(DatabaseError, OSError):
    """The history's database cannot be opened, read or written: it names the file."""

    what = "push history"


SCHEMA: Final = Schema(
    version=1,
    create=(
        """CREATE TABLE IF NOT EXISTS pushes (
            number INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            by TEXT NOT NULL,
            source TEXT NOT NULL,
            click_type TEXT NOT NULL,
            principal TEXT NOT NULL,
            client_token TEXT,
            UNIQUE (principal, client_token))""",
        "CREATE INDEX IF NOT EXISTS pushes_by_principal ON pushes (principal, at)",
        "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        """CREATE TABLE IF NOT EXISTS writer (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT,
            until REAL NOT NULL DEFAULT 0,
            written INTEGER NOT NULL DEFAULT 0)""",
        "INSERT OR IGNORE INTO writer (id) VALUES (1)",
    ),
)


class SqliteHistory:
    """History in one SQLite file (swan.adapters.sqlite), shared by every thread of the
    process; processes sharing the file take turns (each write is one IMMEDIATE transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._database = Database(path, SCHEMA, error=HistoryUnavailableError)

    def screen(
        self, at: float, *, principal: str, client_token: str | None, min_interval: float
    ) -> Duplicate | Refused | None:
        with self._lock, self._database.errors() as db:
            return self._decide(db, at, principal, client_token, min_interval)

    def record(
        self, push: Push, *, principal: str, client_token: str | None, min_interval: float
    ) -> Recorded | Duplicate | Refused:
        with self._lock, self._database.transaction() as db:
            decided = self._decide(db, push.at, principal, client_token, min_interval)
            if decided is not None:
                return decided
            cursor = db.execute(
                "INSERT INTO pushes (at, by, source, click_type, principal, client_token)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (push.at, push.by, push.source, push.click_type, principal, client_token),
            )
            return Recorded(int(cursor.lastrowid or 0))

    @staticmethod
    def _decide(
        db: sqlite3.Connection,
        at: float,
        principal: str,
        client_token: str | None,
        min_interval: float,
    ) -> Duplicate | Refused | None:
        if client_token is not None:
            row = db.execute(
                "SELECT number FROM pushes WHERE principal = ? AND client_token = ?",
                (principal, client_token),
            ).fetchone()
            if row is not None:
                return Duplicate(row[0])
        (last,) = db.execute(
            "SELECT max(at) FROM pushes WHERE principal = ?", (principal,)
        ).fetchone()
        return check_rate(last, at, min_interval)

    def since(self, number: int) -> list[tuple[int, Push]]:
        with self._lock, self._database.errors() as db:
            rows = db.execute(
                "SELECT number, at, by, source, click_type FROM pushes"
                " WHERE number > ? ORDER BY number",
                (number,),
            ).fetchall()
        return [(row[0], Push(row[1], row[2], row[3], row[4])) for row in rows]

    def recent(self, limit: int) -> list[Entry]:
        with self._lock, self._database.errors() as db:
            rows = db.execute(
                "SELECT number, at, by, source, click_type, principal FROM pushes"
                " ORDER BY number DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Entry(row[0], Push(row[1], row[2], row[3], row[4]), row[5]) for row in rows]

    def count(self, counter: str) -> None:
        with self._lock, self._database.errors() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1)"
                " ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (counter,),
            )

    def counters(self) -> dict[str, int]:
        with self._lock, self._database.errors() as db:
            return dict(db.execute("SELECT name, value FROM counters").fetchall())

    def written(self) -> int:
        with self._lock, self._database.errors() as db:
            (number,) = db.execute("SELECT written FROM writer").fetchone()
        return int(number)

    def mark_written(self, number: int) -> None:
        with self._lock, self._database.errors() as db:
            db.execute("UPDATE writer SET written = max(written, ?)", (number,))

    def claim_writer(self, owner: str, *, now: float, hold: float) -> float | None:
        with self._lock, self._database.transaction() as db:
            (until,) = db.execute("SELECT until FROM writer").fetchone()
            if until > now:
                return float(until)
            db.execute("UPDATE writer SET holder = ?, until = ?", (owner, now + hold))
            return None

    def release_writer(self, owner: str, *, not_before: float) -> None:
        with self._lock, self._database.errors() as db:
            db.execute(
                "UPDATE writer SET holder = NULL, until = ? WHERE holder = ?", (not_before, owner)
            )

    def close(self) -> None:
        with self._lock:
            self._database.close()
