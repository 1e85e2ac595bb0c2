"""The device registry's tables, in one SQLite file (swan.adapters.sqlite): rows in, records
out. What may be written, and when, is the registry's (swan.local.registry); this module
knows the tables, their columns and the records read from them.

Ids and ARNs are AWS's: a certificate's id is the SHA-256 of its DER bytes, and ARNs read
`arn:aws:iot:<region>:<account>:cert/<id>` (`cacert/`, `thing/`, `policy/`). Timestamps are
epoch seconds from the clock the registry is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from cryptography import x509

from swan.adapters.sqlite import Database, Schema
from swan.core.names import CERTIFICATE_ID
from swan.local.registry_errors import RegistryDatabaseError, UnknownResourceError

if TYPE_CHECKING:
    import sqlite3
    from contextlib import AbstractContextManager
    from pathlib import Path

CertificateStatus = Literal[
    "ACTIVE",
    "INACTIVE",
    "REVOKED",
    "PENDING_ACTIVATION",
    "PENDING_TRANSFER",
    "REGISTER_INACTIVE",
]
CERTIFICATE_STATUSES: Final[tuple[CertificateStatus, ...]] = get_args(CertificateStatus)
CaStatus = Literal["ACTIVE", "INACTIVE"]
CA_STATUSES: Final[tuple[CaStatus, ...]] = get_args(CaStatus)

# The records read rows by position (`SELECT *`): keep the column order of each table.
_CREATE: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS cas (
        id TEXT PRIMARY KEY, pem TEXT NOT NULL, status TEXT NOT NULL,
        auto_registration INTEGER NOT NULL, created_at REAL NOT NULL, modified_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS certificates (
        id TEXT PRIMARY KEY, pem TEXT NOT NULL, status TEXT NOT NULL, ca_id TEXT,
        common_name TEXT, created_at REAL NOT NULL, modified_at REAL NOT NULL, last_seen REAL)""",
    """CREATE TABLE IF NOT EXISTS things (
        name TEXT PRIMARY KEY, thing_id TEXT NOT NULL, attributes TEXT NOT NULL,
        version INTEGER NOT NULL, created_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS thing_principals (
        thing TEXT NOT NULL, principal TEXT NOT NULL, PRIMARY KEY (thing, principal))""",
    # `document` and `version`: the default version's, kept with it in each transaction;
    # `last_version`: the last version id given out (AWS never gives one out twice).
    """CREATE TABLE IF NOT EXISTS policies (
        name TEXT PRIMARY KEY, document TEXT NOT NULL, version INTEGER NOT NULL,
        created_at REAL NOT NULL, modified_at REAL NOT NULL, last_version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS policy_versions (
        policy TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,
        created_at REAL NOT NULL, PRIMARY KEY (policy, version))""",
    """CREATE TABLE IF NOT EXISTS policy_targets (
        policy TEXT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (policy, target))""",
    # A device's every connect asks for its certificate's things and policies (and every
    # AttachPolicy for the target's): without these, each read the whole table, a cost
    # that grew with every device registered. Made on opening a file of before them too.
    """CREATE INDEX IF NOT EXISTS thing_principals_by_principal
        ON thing_principals (principal)""",
    "CREATE INDEX IF NOT EXISTS policy_targets_by_target ON policy_targets (target)",
)

# Schema 1 kept one document per policy: it becomes the policy's only (default) version.
_FROM_SCHEMA_1: Final = (
    "ALTER TABLE policies ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0",
    "UPDATE policies SET last_version = version",
    """INSERT OR IGNORE INTO policy_versions
        SELECT name, version, document, modified_at FROM policies""",
)

SCHEMA: Final = Schema(version=2, create=_CREATE, migrations={1: _FROM_SCHEMA_1})


@dataclass(frozen=True)
class CaRecord:
    id: str
    arn: str
    pem: str
    status: CaStatus
    auto_registration: bool
    created_at: float
    last_modified: float

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem.encode())


@dataclass(frozen=True)
class CertificateRecord:
    id: str
    arn: str
    pem: str
    status: CertificateStatus
    ca_id: str | None
    created_at: float
    last_modified: float
    last_seen: float | None
    common_name: str | None

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem.encode())


@dataclass(frozen=True)
class ThingRecord:
    name: str
    arn: str
    thing_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    version: int = 1
    created_at: float = 0.0


@dataclass(frozen=True)
class PolicyRecord:
    """A policy as its default version has it: `version` is that version's id."""

    name: str
    arn: str
    document: str
    version: int
    created_at: float
    last_modified: float

    @property
    def version_id(self) -> str:
        return str(self.version)


@dataclass(frozen=True)
class PolicyVersionRecord:
    policy: str
    arn: str
    version: int
    document: str
    is_default: bool
    created_at: float

    @property
    def version_id(self) -> str:
        return str(self.version)


class RegistryStore:
    """The tables of one registry file. Not locked: the registry holds its lock around each
    `transaction()`, and passes the transaction's connection (`db`) to each read."""

    def __init__(self, path: Path, *, region: str, account_id: str) -> None:
        self.path = path
        self.region = region
        self.account_id = account_id
        self._database = Database(path, SCHEMA, error=RegistryDatabaseError)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction; sqlite errors become RegistryDatabaseError, naming the file."""
        return self._database.transaction()

    def close(self) -> None:
        self._database.close()

    # ------------------------------------------------------------ ARNs

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account_id}:{kind}/{name}"

    def certificate_id_of(self, arn: str) -> str | None:
        """The certificate id in one of this registry's certificate ARNs, else None."""
        prefix = self.arn("cert", "")
        if arn.startswith(prefix) and CERTIFICATE_ID.fullmatch(arn[len(prefix) :]):
            return arn[len(prefix) :]
        return None

    # ------------------------------------------------------------ reads

    def find_ca(self, db: sqlite3.Connection, ca_id: str) -> CaRecord | None:
        row = db.execute("SELECT * FROM cas WHERE id = ?", (ca_id,)).fetchone()
        return None if row is None else self.ca_record(row)

    def require_ca(self, db: sqlite3.Connection, ca_id: str) -> CaRecord:
        found = self.find_ca(db, ca_id)
        if found is None:
            raise UnknownResourceError("CA certificate", ca_id)
        return found

    def find_certificate(self, db: sqlite3.Connection, cert_id: str) -> CertificateRecord | None:
        row = db.execute("SELECT * FROM certificates WHERE id = ?", (cert_id,)).fetchone()
        return None if row is None else self.certificate_record(row)

    def require_certificate(self, db: sqlite3.Connection, cert_id: str) -> CertificateRecord:
        found = self.find_certificate(db, cert_id)
        if found is None:
            raise UnknownResourceError("certificate", cert_id)
        return found

    def find_thing(self, db: sqlite3.Connection, name: str) -> ThingRecord | None:
        row = db.execute("SELECT * FROM things WHERE name = ?", (name,)).fetchone()
        return None if row is None else self.thing_record(row)

    def require_thing(self, db: sqlite3.Connection, name: str) -> ThingRecord:
        found = self.find_thing(db, name)
        if found is None:
            raise UnknownResourceError("thing", name)
        return found

    def thing_principals(self, db: sqlite3.Connection, thing: str) -> list[str]:
        rows = db.execute(
            "SELECT principal FROM thing_principals WHERE thing = ? ORDER BY principal", (thing,)
        ).fetchall()
        return [str(principal) for (principal,) in rows]

    def find_policy(self, db: sqlite3.Connection, name: str) -> PolicyRecord | None:
        row = db.execute("SELECT * FROM policies WHERE name = ?", (name,)).fetchone()
        return None if row is None else self.policy_record(row)

    def require_policy(self, db: sqlite3.Connection, name: str) -> PolicyRecord:
        found = self.find_policy(db, name)
        if found is None:
            raise UnknownResourceError("policy", name)
        return found

    def versions(self, db: sqlite3.Connection, policy: PolicyRecord) -> list[PolicyVersionRecord]:
        rows = db.execute(
            "SELECT * FROM policy_versions WHERE policy = ? ORDER BY version", (policy.name,)
        ).fetchall()
        return [self.version_record(row, policy.version) for row in rows]

    def require_version(
        self, db: sqlite3.Connection, policy: PolicyRecord, version: int
    ) -> PolicyVersionRecord:
        row = db.execute(
            "SELECT * FROM policy_versions WHERE policy = ? AND version = ?",
            (policy.name, version),
        ).fetchone()
        if row is None:
            raise UnknownResourceError("policy version", f"{policy.name} {version}")
        return self.version_record(row, self.require_policy(db, policy.name).version)

    # ------------------------------------------------------------ writes

    def update_ca(
        self,
        db: sqlite3.Connection,
        ca_id: str,
        now: float,
        *,
        status: str | None,
        auto_registration: bool | None,
    ) -> None:
        """Set what is given (None: kept as it is)."""
        db.execute(
            "UPDATE cas SET status = coalesce(?, status),"
            " auto_registration = coalesce(?, auto_registration), modified_at = ? WHERE id = ?",
            (status, None if auto_registration is None else int(auto_registration), now, ca_id),
        )

    def insert_policy(
        self, db: sqlite3.Connection, name: str, document: str, now: float
    ) -> PolicyRecord:
        """A new policy with `document` as its version 1, the default."""
        db.execute("INSERT INTO policies VALUES (?, ?, 1, ?, ?, 1)", (name, document, now, now))
        db.execute("INSERT INTO policy_versions VALUES (?, 1, ?, ?)", (name, document, now))
        return self.require_policy(db, name)

    def make_default(
        self, db: sqlite3.Connection, version: PolicyVersionRecord, now: float
    ) -> None:
        db.execute(
            "UPDATE policies SET document = ?, version = ?, modified_at = ? WHERE name = ?",
            (version.document, version.version, now, version.policy),
        )

    # ------------------------------------------------------------ records

    def ca_record(self, row: Any) -> CaRecord:
        ca_id, pem, status, auto, created, modified = row
        return CaRecord(
            ca_id, self.arn("cacert", ca_id), pem, status, bool(auto), created, modified
        )

    def certificate_record(self, row: Any) -> CertificateRecord:
        cert_id, pem, status, ca_id, common_name, created, modified, last_seen = row
        return CertificateRecord(
            cert_id,
            self.arn("cert", cert_id),
            pem,
            status,
            ca_id,
            created,
            modified,
            last_seen,
            common_name,
        )

    def thing_record(self, row: Any) -> ThingRecord:
        name, thing_id, attributes, version, created = row
        return ThingRecord(
            name, self.arn("thing", name), thing_id, json.loads(attributes), version, created
        )

    def policy_record(self, row: Any) -> PolicyRecord:
        name, document, version, created, modified, _last_version = row
        return PolicyRecord(name, self.arn("policy", name), document, version, created, modified)

    def version_record(self, row: Any, default: int) -> PolicyVersionRecord:
        name, version, document, created = row
        arn = self.arn("policy", name)
        return PolicyVersionRecord(name, arn, version, document, version == default, created)
