"""What the local Cognito Identity keeps, in `<state>/cognito.db` (SQLite, opened as every
database of the state directory is: swan.adapters.sqlite): the pools' ids, the identities
and the credentials issued.

Every method is atomic and thread-safe (one lock, one transaction per write): the HTTP
server's threads issue credentials while the gateway's thread looks them up.

How far the tables grow (`CognitoLimits`): at most `max_identities` identities (making one
more forgets the one least recently used, with its credentials); at most
`credentials_per_identity` credentials per identity (issuing one more forgets its oldest);
credentials expired more than `expired_kept_seconds` ago are forgotten on the next issue
(until then the verifier answers ExpiredToken for them, as AWS does, rather than "unknown
key").
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.sqlite import Database, DatabaseError, Schema
from swan.local.cognito_pools import pool_logical_ids
from swan.local.sigv4 import SigningKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

DATABASE: Final = "cognito.db"

SCHEMA: Final = Schema(
    version=1,
    create=(
        "CREATE TABLE IF NOT EXISTS pools (logical_id TEXT PRIMARY KEY, pool_id TEXT)",
        """CREATE TABLE IF NOT EXISTS identities (
            identity_id TEXT PRIMARY KEY, pool_id TEXT, created REAL, used REAL)""",
        """CREATE TABLE IF NOT EXISTS credentials (
            access_key_id TEXT PRIMARY KEY, identity_id TEXT, secret TEXT, token TEXT,
            principal TEXT, expires INTEGER, issued REAL)""",
        "CREATE INDEX IF NOT EXISTS by_identity ON credentials (identity_id, issued)",
        # Every issue forgets the long-expired credentials, and one identity too many the
        # least recently used: without these, each read the whole table (0.76 ms an issue
        # at 10,000 credentials, and growing). Made on opening a file of before them too.
        "CREATE INDEX IF NOT EXISTS by_expiry ON credentials (expires)",
        "CREATE INDEX IF NOT EXISTS by_use ON identities (used)",
    ),
)


class CognitoDatabaseError(DatabaseError):
    """The local Cognito's database cannot be opened, read or written: it names the file."""

    what = "Cognito database"


@dataclass(frozen=True)
class CognitoLimits:
    """How far the tables may grow (see the module's docstring)."""

    max_identities: int = 10_000
    credentials_per_identity: int = 5
    expired_kept_seconds: float = 24 * 3600.0


class CognitoStore:
    """The SQLite database behind the stand-in; every method is atomic (one lock)."""

    def __init__(self, path: Path, limits: CognitoLimits) -> None:
        self.limits = limits
        self.lock = threading.Lock()
        # Each write is one transaction; the lock serialises the threads.
        self.database = Database(path, SCHEMA, error=CognitoDatabaseError)

    def close(self) -> None:
        with self.lock:
            self.database.close()

    def pool_ids(self, logical_ids: Iterable[str], region: str) -> dict[str, str]:
        with self.lock, self.database.transaction() as db:
            kept = dict(db.execute("SELECT logical_id, pool_id FROM pools").fetchall())
            ids = {}
            for logical_id in logical_ids:
                pool_id = kept.get(logical_id)
                if pool_id is None or not pool_id.startswith(f"{region}:"):
                    pool_id = f"{region}:{uuid.uuid4()}"
                    db.execute("INSERT OR REPLACE INTO pools VALUES (?, ?)", (logical_id, pool_id))
                ids[logical_id] = pool_id
            return ids

    def add_identity(self, identity_id: str, pool_id: str, now: float) -> None:
        with self.lock, self.database.transaction() as db:
            db.execute(
                "INSERT INTO identities VALUES (?, ?, ?, ?)", (identity_id, pool_id, now, now)
            )
            (count,) = db.execute("SELECT COUNT(*) FROM identities").fetchone()
            surplus = count - self.limits.max_identities
            if surplus > 0:  # forget the least recently used, with their credentials
                db.execute(
                    "DELETE FROM credentials WHERE identity_id IN"
                    " (SELECT identity_id FROM identities ORDER BY used LIMIT ?)",
                    (surplus,),
                )
                db.execute(
                    "DELETE FROM identities WHERE identity_id IN"
                    " (SELECT identity_id FROM identities ORDER BY used LIMIT ?)",
                    (surplus,),
                )

    def identity_pool(self, identity_id: str) -> str | None:
        with self.lock, self.database.errors() as db:
            row = db.execute(
                "SELECT pool_id FROM identities WHERE identity_id = ?", (identity_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def add_credentials(self, key: SigningKey, expires: int, now: float) -> None:
        with self.lock, self.database.transaction() as db:
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.access_key_id,
                    key.identity_id,
                    key.secret_access_key,
                    key.session_token,
                    key.principal_arn,
                    expires,
                    now,
                ),
            )
            db.execute(
                "UPDATE identities SET used = ? WHERE identity_id = ?", (now, key.identity_id)
            )
            db.execute(
                "DELETE FROM credentials WHERE identity_id = ? AND access_key_id NOT IN"
                " (SELECT access_key_id FROM credentials WHERE identity_id = ?"
                "  ORDER BY issued DESC LIMIT ?)",
                (key.identity_id, key.identity_id, self.limits.credentials_per_identity),
            )
            db.execute(
                "DELETE FROM credentials WHERE expires < ?",
                (now - self.limits.expired_kept_seconds,),
            )

    def key(self, access_key_id: str) -> SigningKey | None:
        with self.lock, self.database.errors() as db:
            row = db.execute(
                "SELECT identity_id, secret, token, principal, expires FROM credentials"
                " WHERE access_key_id = ?",
                (access_key_id,),
            ).fetchone()
        if row is None:
            return None
        identity_id, secret, token, principal, expires = row
        return SigningKey(
            access_key_id=access_key_id,
            secret_access_key=secret,
            principal_arn=principal,
            session_token=token,
            expires_at=datetime.fromtimestamp(expires, UTC),
            identity_id=identity_id,
        )


def load_pool_ids(state_dir: Path, template: Mapping[str, Any], region: str) -> dict[str, str]:
    """Each identity pool's id, by logical id: made once per state directory, then kept."""
    store = CognitoStore(state_dir / DATABASE, CognitoLimits())
    try:
        return store.pool_ids(pool_logical_ids(template), region)
    finally:
        store.close()
