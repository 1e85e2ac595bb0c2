"""The local device registry: CA and device certificates, things, IoT policies and who is
attached to what, as AWS IoT's registry keeps them.

The device gateway looks every client certificate up here; the control-plane API
(swan.local.controlplane) serves the same records to boto3 `iot`. Both run in this process
on different threads, so one SQLite connection (WAL) is shared under a lock.

Policies are kept as AWS IoT keeps them, in versions, and only if AWS would keep them
(swan.local.core.policy_rules): whoever writes one - the control plane, or `swan up` creating the
template's policies (`deploy_policy`) - meets the same checks, and each refusal carries the
AWS error (`aws_error`) the control plane answers with.

Ids and ARNs are AWS's: a certificate's id is the SHA-256 of its DER bytes, and ARNs read
`arn:aws:iot:<region>:<account>:cert/<id>` (`cacert/`, `thing/`, `policy/`). Timestamps are
epoch seconds from the clock the registry is given.

`on_change` callbacks run after a certificate's status changed, outside the lock, on the
thread that made the change: the gateway uses them to drop the live connections of a
certificate that is no longer ACTIVE. `on_ca_change` callbacks run likewise after a CA was
registered or changed: the gateway trusts a newly registered CA at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from swan.adapters.private_files import private_database
from swan.certs.authority import certificate_id
from swan.core.errors import InvalidThingNameError, SwanError
from swan.core.names import CERTIFICATE_ID, check_thing_name
from swan.local.core.policy import PolicyDocumentError, UnsupportedPolicyError
from swan.local.core.policy_rules import (
    NewDefaultVersion,
    PolicyAttachmentLimitError,
    PolicyNameError,
    PolicyVersionsLimitError,
    StoredVersion,
    check_attachment,
    check_new_version,
    check_policy_document,
    check_policy_name,
    decode_policy,
    plan_update,
)
from swan.local.intrinsics import LOCAL_ACCOUNT_ID, LOCAL_REGION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path
    from types import TracebackType

    from swan.adapters.clock import Clock

log = logging.getLogger(__name__)

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

SCHEMA_VERSION: Final = 2
LOCK_WAIT_MS: Final = 5000

# The records read rows by position (`SELECT *`): keep the column order of each table.
_SCHEMA: Final = (
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
)

# Schema 1 kept one document per policy: it becomes the policy's only (default) version.
_FROM_SCHEMA_1: Final = (
    "ALTER TABLE policies ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0",
    "UPDATE policies SET last_version = version",
    """INSERT OR IGNORE INTO policy_versions
        SELECT name, version, document, modified_at FROM policies""",
)


# ---------------------------------------------------------------- errors


class RegistryError(SwanError):
    """Base of what the registry refuses. `aws_error` is what AWS IoT answers with for each
    kind (HTTP status, botocore's error type): the control plane sends it, and `swan up`
    names it."""

    aws_error: ClassVar[tuple[int, str]] = (500, "InternalFailureException")


class RegistryDatabaseError(RegistryError, RuntimeError):
    """The database file cannot be opened, read or written: it names the file."""

    def __init__(self, path: Path, problem: object) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"device registry database {path}: {problem}")


class UnknownResourceError(RegistryError, LookupError):
    aws_error = (404, "ResourceNotFoundException")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"no {kind} {name!r} is registered")


class ResourceConflictError(RegistryError, ValueError):
    """The resource exists, differently from what was asked for."""

    aws_error = (409, "ResourceAlreadyExistsException")

    def __init__(self, kind: str, name: str, arn: str, problem: str) -> None:
        self.kind = kind
        self.name = name
        self.arn = arn
        super().__init__(" ".join(filter(None, (f"{kind} {name!r} already exists", problem))))


class CertificateStateError(RegistryError, ValueError):
    """A status change AWS does not allow: nothing leaves REVOKED."""

    aws_error = (406, "CertificateStateException")

    def __init__(self, certificate_id: str, status: str, new_status: str) -> None:
        self.certificate_id = certificate_id
        self.status = status
        self.new_status = new_status
        super().__init__(f"certificate {certificate_id} is {status}; it cannot become {new_status}")


class InvalidCertificateError(RegistryError, ValueError):
    """A PEM that is not a certificate, or not one the operation can take."""

    aws_error = (400, "CertificateValidationException")

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"invalid certificate: {problem}")


class InvalidValueError(RegistryError, ValueError):
    """A name, status or document of the wrong shape."""

    aws_error = (400, "InvalidRequestException")

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"invalid {field} {value!r}: {problem}")


class InvalidPolicyError(InvalidValueError):
    """A policy document AWS IoT refuses (swan.local.core.policy_rules); `where` names the part."""

    aws_error = (400, "MalformedPolicyException")

    def __init__(self, name: str, error: PolicyDocumentError) -> None:
        self.where = error.where
        problem = error.problem if error.where == "document" else f"{error.where}: {error.problem}"
        super().__init__("policy document of", name, problem)


class UnsupportedPolicyDocumentError(InvalidValueError):
    """A document AWS IoT would store but the stand-in cannot evaluate (a Condition): refused,
    so that nothing is allowed here that AWS would deny."""

    def __init__(self, name: str, error: UnsupportedPolicyError) -> None:
        self.where = error.where
        super().__init__(
            "policy document of", name, f"{error.where}: {error.problem} (not evaluated locally)"
        )


class PolicyConflictError(RegistryError, ValueError):
    """A policy or version that cannot be deleted as it stands: the default version, or a
    policy still attached or with versions besides its default."""

    aws_error = (409, "DeleteConflictException")

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"policy {name!r} cannot be deleted: {problem}")


class TooManyVersionsError(RegistryError, PolicyVersionsLimitError):
    aws_error = (409, "VersionsLimitExceededException")


class TooManyPoliciesError(RegistryError, PolicyAttachmentLimitError):
    aws_error = (410, "LimitExceededException")


class ThingInUseError(RegistryError, ValueError):
    aws_error = (400, "InvalidRequestException")

    def __init__(self, name: str, principals: list[str]) -> None:
        self.name = name
        self.principals = principals
        super().__init__(
            f"thing {name!r} still has {len(principals)} principal(s) attached; detach them first"
        )


class VersionMismatchError(RegistryError, ValueError):
    aws_error = (409, "VersionConflictException")

    def __init__(self, name: str, version: int, expected: int) -> None:
        self.name = name
        self.version = version
        self.expected = expected
        super().__init__(f"thing {name!r} is at version {version}, not {expected}")


class PolicyDeploymentError(RegistryError, ValueError):
    """A template's policy that AWS IoT would refuse, as CloudFormation reports it: the
    resource, and the AWS error type and message that fail it."""

    def __init__(self, logical_id: str, error: RegistryError) -> None:
        self.logical_id = logical_id
        self.error = error
        super().__init__(f"{logical_id} (AWS::IoT::Policy) failed: {error.aws_error[1]}: {error}")


# ---------------------------------------------------------------- records


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


# ---------------------------------------------------------------- the registry


class Registry:
    """The registry in one SQLite file; every method is safe to call from any thread."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        region: str = LOCAL_REGION,
        account_id: str = LOCAL_ACCOUNT_ID,
    ) -> None:
        self.path = path
        self.region = region
        self.account_id = account_id
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[CertificateRecord], None]] = []
        self._ca_listeners: list[Callable[[CaRecord], None]] = []
        self._parsed_cas: dict[str, x509.Certificate] = {}
        self._connection = self._open()

    # ------------------------------------------------------------ ARNs

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iot:{self.region}:{self.account_id}:{kind}/{name}"

    def certificate_arn(self, certificate_id: str) -> str:
        return self._arn("cert", certificate_id)

    def ca_arn(self, ca_id: str) -> str:
        return self._arn("cacert", ca_id)

    def thing_arn(self, name: str) -> str:
        return self._arn("thing", name)

    def policy_arn(self, name: str) -> str:
        return self._arn("policy", name)

    def certificate_id_of(self, arn: str) -> str | None:
        """The certificate id in one of this registry's certificate ARNs, else None."""
        prefix = self._arn("cert", "")
        if arn.startswith(prefix) and CERTIFICATE_ID.fullmatch(arn[len(prefix) :]):
            return arn[len(prefix) :]
        return None

    def registration_code(self) -> str:
        """The account's registration code: made once, the same for the registry's life."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'registration_code'").fetchone()
            if row is not None:
                return str(row[0])
            code = secrets.token_hex(32)
            db.execute("INSERT INTO meta VALUES ('registration_code', ?)", (code,))
            return code

    # ------------------------------------------------------------ CA certificates

    def register_ca(
        self, pem: str | bytes, *, auto_registration: bool, status: str = "ACTIVE"
    ) -> CaRecord:
        """Register a CA, or make an already registered one have these settings."""
        certificate = _load(pem)
        _check_choice("CA status", status, CA_STATUSES)
        if not _is_ca(certificate):
            raise InvalidCertificateError("not a CA certificate (no basicConstraints CA:TRUE)")
        ca_id = certificate_id(certificate)
        now = self._clock.now()
        with self._transaction() as db:
            if self._find_ca(db, ca_id) is None:
                db.execute(
                    "INSERT INTO cas VALUES (?, ?, ?, ?, ?, ?)",
                    (ca_id, _pem_text(certificate), status, int(auto_registration), now, now),
                )
            else:
                self._update_ca(db, ca_id, now, status=status, auto_registration=auto_registration)
            self._parsed_cas[ca_id] = certificate
            record = self._require_ca(db, ca_id)
        self._notify_ca(record)
        return record

    def ca(self, ca_id: str) -> CaRecord | None:
        with self._transaction() as db:
            return self._find_ca(db, ca_id)

    def cas(self) -> list[CaRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM cas ORDER BY created_at, rowid")
            return [self._ca_record(row) for row in rows.fetchall()]

    def set_ca(
        self, ca_id: str, *, status: str | None = None, auto_registration: bool | None = None
    ) -> CaRecord:
        if status is not None:
            _check_choice("CA status", status, CA_STATUSES)
        with self._transaction() as db:
            self._require_ca(db, ca_id)
            self._update_ca(
                db, ca_id, self._clock.now(), status=status, auto_registration=auto_registration
            )
            record = self._require_ca(db, ca_id)
        self._notify_ca(record)
        return record

    def ca_for(self, certificate: x509.Certificate) -> CaRecord | None:
        """The registered CA whose key signed `certificate` (an ACTIVE one first), or None.

        The signature is checked, not just the issuer's name: another CA may share it.
        """
        candidates = sorted(self.cas(), key=lambda ca: ca.status != "ACTIVE")
        for ca in candidates:
            if is_signed_by(certificate, self._parsed_ca(ca)):
                return ca
        return None

    def _parsed_ca(self, ca: CaRecord) -> x509.Certificate:
        with self._lock:
            parsed = self._parsed_cas.get(ca.id)
            if parsed is None:
                parsed = self._parsed_cas[ca.id] = ca.certificate
            return parsed

    # ------------------------------------------------------------ device certificates

    def register_certificate(
        self, pem: str | bytes, *, ca_id: str | None, status: str
    ) -> CertificateRecord:
        """Register a device certificate signed by the registered CA `ca_id` (None: a
        certificate registered without a CA). One already registered is returned as it is."""
        certificate = _load(pem)
        _check_choice("certificate status", status, CERTIFICATE_STATUSES)
        cert_id = certificate_id(certificate)
        now = self._clock.now()
        with self._transaction() as db:
            existing = self._find_certificate(db, cert_id)
            if existing is not None:
                return existing
            if ca_id is not None:
                ca = self._require_ca(db, ca_id)
                if not is_signed_by(certificate, self._parsed_ca(ca)):
                    raise InvalidCertificateError(f"it is not signed by the CA {ca_id}")
            db.execute(
                "INSERT INTO certificates VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    cert_id,
                    _pem_text(certificate),
                    status,
                    ca_id,
                    common_name(certificate),
                    now,
                    now,
                ),
            )
            return self._require_certificate(db, cert_id)

    def certificate(self, cert_id: str) -> CertificateRecord | None:
        with self._transaction() as db:
            return self._find_certificate(db, cert_id)

    def certificates(self, *, ca_id: str | None = None) -> list[CertificateRecord]:
        """Every device certificate, oldest first; only those of `ca_id` if given."""
        with self._transaction() as db:
            if ca_id is None:
                rows = db.execute("SELECT * FROM certificates ORDER BY created_at, rowid")
            else:
                rows = db.execute(
                    "SELECT * FROM certificates WHERE ca_id = ? ORDER BY created_at, rowid",
                    (ca_id,),
                )
            return [self._certificate_record(row) for row in rows.fetchall()]

    def set_certificate_status(self, cert_id: str, status: str) -> CertificateRecord:
        """Change the status (a no-op if it is already `status`); REVOKED is for good."""
        _check_choice("certificate status", status, CERTIFICATE_STATUSES)
        with self._transaction() as db:
            before = self._require_certificate(db, cert_id)
            if before.status == status:
                return before
            if before.status == "REVOKED":
                raise CertificateStateError(cert_id, before.status, status)
            db.execute(
                "UPDATE certificates SET status = ?, modified_at = ? WHERE id = ?",
                (status, self._clock.now(), cert_id),
            )
            after = self._require_certificate(db, cert_id)
        log.info("certificate %s: %s -> %s", cert_id, before.status, status)
        self._notify(after)
        return after

    def touch(self, cert_id: str, now: float) -> None:
        """Remember that the certificate was just seen (a device connected with it)."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE certificates SET last_seen = ? WHERE id = ?", (now, cert_id)
            ).rowcount
            if not changed:
                raise UnknownResourceError("certificate", cert_id)

    def on_change(self, callback: Callable[[CertificateRecord], None]) -> None:
        """Call `callback(record)` after each certificate status change."""
        with self._lock:
            self._listeners.append(callback)

    def _notify(self, record: CertificateRecord) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(record)
            except Exception:
                # The change is committed; one listener's failure must not undo or hide it.
                log.exception("a listener failed on the change of certificate %s", record.id)

    def on_ca_change(self, callback: Callable[[CaRecord], None]) -> None:
        """Call `callback(record)` after a CA is registered or its settings change."""
        with self._lock:
            self._ca_listeners.append(callback)

    def _notify_ca(self, record: CaRecord) -> None:
        with self._lock:
            listeners = list(self._ca_listeners)
        for listener in listeners:
            try:
                listener(record)
            except Exception:
                log.exception("a listener failed on the change of CA %s", record.id)

    # ------------------------------------------------------------ things

    def create_thing(self, name: str, attributes: Mapping[str, str] | None = None) -> ThingRecord:
        """Create the thing; creating it again with the same attributes changes nothing."""
        _check_thing_name(name)
        wanted = dict(attributes or {})
        with self._transaction() as db:
            existing = self._find_thing(db, name)
            if existing is not None:
                if existing.attributes != wanted:
                    raise ResourceConflictError(
                        "thing", name, existing.arn, "with different attributes"
                    )
                return existing
            db.execute(
                "INSERT INTO things VALUES (?, ?, ?, 1, ?)",
                (name, str(uuid.uuid4()), json.dumps(wanted), self._clock.now()),
            )
            return self._require_thing(db, name)

    def thing(self, name: str) -> ThingRecord | None:
        with self._transaction() as db:
            return self._find_thing(db, name)

    def things(self) -> list[ThingRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM things ORDER BY name").fetchall()
            return [self._thing_record(row) for row in rows]

    def delete_thing(self, name: str, *, expected_version: int | None = None) -> bool:
        """Delete the thing; False if there was none. It must have no principals attached."""
        with self._transaction() as db:
            thing = self._find_thing(db, name)
            if thing is None:
                return False
            if expected_version is not None and expected_version != thing.version:
                raise VersionMismatchError(name, thing.version, expected_version)
            principals = self._thing_principals(db, name)
            if principals:
                raise ThingInUseError(name, principals)
            db.execute("DELETE FROM things WHERE name = ?", (name,))
            return True

    def attach_thing_principal(self, thing: str, principal: str) -> None:
        with self._transaction() as db:
            self._require_thing(db, thing)
            self._check_principal(db, principal)
            db.execute("INSERT OR IGNORE INTO thing_principals VALUES (?, ?)", (thing, principal))

    def detach_thing_principal(self, thing: str, principal: str) -> None:
        with self._transaction() as db:
            self._require_thing(db, thing)
            db.execute(
                "DELETE FROM thing_principals WHERE thing = ? AND principal = ?",
                (thing, principal),
            )

    def thing_principals(self, thing: str) -> list[str]:
        with self._transaction() as db:
            self._require_thing(db, thing)
            return self._thing_principals(db, thing)

    def principal_things(self, principal: str) -> list[str]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT thing FROM thing_principals WHERE principal = ? ORDER BY thing",
                (principal,),
            ).fetchall()
            return [str(thing) for (thing,) in rows]

    # ------------------------------------------------------------ policies

    def create_policy(self, name: str, document: str) -> PolicyRecord:
        """CreatePolicy: the policy with `document` as its version 1, the default. Refuses
        what AWS IoT refuses (swan.local.core.policy_rules), and a name already taken."""
        _check_policy(name, document)
        with self._transaction() as db:
            existing = self._find_policy(db, name)
            if existing is not None:
                raise ResourceConflictError("policy", name, existing.arn, "")
            return self._insert_policy(db, name, document)

    def create_policy_version(
        self, name: str, document: str, *, set_as_default: bool = False
    ) -> PolicyVersionRecord:
        """CreatePolicyVersion: the next version of the policy (ids are never reused), the
        default if `set_as_default`; refused when the policy has five versions already."""
        _check_policy(name, document)
        with self._transaction() as db:
            return self._add_version(db, name, document, set_as_default=set_as_default)

    def policy(self, name: str) -> PolicyRecord | None:
        with self._transaction() as db:
            return self._find_policy(db, name)

    def policies(self) -> list[PolicyRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM policies ORDER BY name").fetchall()
            return [self._policy_record(row) for row in rows]

    def policy_versions(self, name: str) -> list[PolicyVersionRecord]:
        """Every version of the policy, oldest first."""
        with self._transaction() as db:
            return self._versions(db, self._require_policy(db, name))

    def policy_version(self, name: str, version: int) -> PolicyVersionRecord:
        with self._transaction() as db:
            return self._require_version(db, self._require_policy(db, name), version)

    def set_default_policy_version(self, name: str, version: int) -> PolicyRecord:
        """SetDefaultPolicyVersion: the version becomes the one in effect."""
        with self._transaction() as db:
            chosen = self._require_version(db, self._require_policy(db, name), version)
            self._make_default(db, chosen)
            return self._require_policy(db, name)

    def delete_policy_version(self, name: str, version: int) -> None:
        """DeletePolicyVersion: any version but the default."""
        with self._transaction() as db:
            chosen = self._require_version(db, self._require_policy(db, name), version)
            if chosen.is_default:
                raise PolicyConflictError(
                    name, f"version {version} is its default version (delete the policy instead)"
                )
            db.execute(
                "DELETE FROM policy_versions WHERE policy = ? AND version = ?", (name, version)
            )

    def delete_policy(self, name: str) -> None:
        """DeletePolicy: only a policy attached to nothing, with no version but its default."""
        with self._transaction() as db:
            policy = self._require_policy(db, name)
            if db.execute("SELECT 1 FROM policy_targets WHERE policy = ?", (name,)).fetchone():
                raise PolicyConflictError(name, "it is attached to one or more targets")
            if len(self._versions(db, policy)) > 1:
                raise PolicyConflictError(name, "it has versions besides its default version")
            db.execute("DELETE FROM policy_versions WHERE policy = ?", (name,))
            db.execute("DELETE FROM policies WHERE name = ?", (name,))

    def deploy_policy(self, logical_id: str, name: str, document: str) -> PolicyRecord:
        """Make `document` the policy `name` in effect, as CloudFormation creates or updates
        the template's `AWS::IoT::Policy` `logical_id`: created if missing; else unchanged if
        its default version holds the document already, or given a new default version (the
        oldest deleted first at five; swan.local.core.policy_rules.plan_update). What AWS IoT would
        refuse fails as the stack would: `PolicyDeploymentError`, naming the AWS error."""
        try:
            _check_policy(name, document)
            with self._transaction() as db:
                existing = self._find_policy(db, name)
                if existing is None:
                    return self._insert_policy(db, name, document)
                stored = [
                    StoredVersion(v.version, v.is_default, decode_policy(v.document))
                    for v in self._versions(db, existing)
                ]
                plan = plan_update(stored, decode_policy(document))
                if isinstance(plan, NewDefaultVersion):
                    if plan.retire is not None:
                        db.execute(
                            "DELETE FROM policy_versions WHERE policy = ? AND version = ?",
                            (name, plan.retire),
                        )
                    added = self._add_version(db, name, document, set_as_default=True)
                    log.info("policy %s: its document changed, version %s", name, added.version)
                return self._require_policy(db, name)
        except RegistryDatabaseError:
            raise
        except RegistryError as error:
            raise PolicyDeploymentError(logical_id, error) from error

    def attach_policy(self, name: str, target: str) -> None:
        """AttachPolicy: again changes nothing; an eleventh policy for a target is refused."""
        with self._transaction() as db:
            self._require_policy(db, name)
            self._check_principal(db, target)
            attached = [
                policy
                for (policy,) in db.execute(
                    "SELECT policy FROM policy_targets WHERE target = ?", (target,)
                )
            ]
            if name in attached:
                return
            try:
                check_attachment(target, len(attached))
            except PolicyAttachmentLimitError:
                raise TooManyPoliciesError(target) from None
            db.execute("INSERT INTO policy_targets VALUES (?, ?)", (name, target))

    def detach_policy(self, name: str, target: str) -> None:
        with self._transaction() as db:
            self._require_policy(db, name)
            db.execute("DELETE FROM policy_targets WHERE policy = ? AND target = ?", (name, target))

    def attached_policies(self, target: str) -> list[PolicyRecord]:
        """The policies attached to `target`, each as its default version has it."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT policies.* FROM policies JOIN policy_targets"
                " ON policies.name = policy_targets.policy"
                " WHERE policy_targets.target = ? ORDER BY name",
                (target,),
            ).fetchall()
            return [self._policy_record(row) for row in rows]

    def _insert_policy(self, db: sqlite3.Connection, name: str, document: str) -> PolicyRecord:
        now = self._clock.now()
        db.execute("INSERT INTO policies VALUES (?, ?, 1, ?, ?, 1)", (name, document, now, now))
        db.execute("INSERT INTO policy_versions VALUES (?, 1, ?, ?)", (name, document, now))
        return self._require_policy(db, name)

    def _add_version(
        self, db: sqlite3.Connection, name: str, document: str, *, set_as_default: bool
    ) -> PolicyVersionRecord:
        policy = self._require_policy(db, name)
        try:
            check_new_version(name, len(self._versions(db, policy)))
        except PolicyVersionsLimitError:
            raise TooManyVersionsError(name) from None
        (version,) = db.execute(
            "UPDATE policies SET last_version = last_version + 1 WHERE name = ?"
            " RETURNING last_version",
            (name,),
        ).fetchone()
        db.execute(
            "INSERT INTO policy_versions VALUES (?, ?, ?, ?)",
            (name, version, document, self._clock.now()),
        )
        added = self._require_version(db, policy, version)
        if set_as_default:
            self._make_default(db, added)
        return self._require_version(db, policy, version)

    def _make_default(self, db: sqlite3.Connection, version: PolicyVersionRecord) -> None:
        db.execute(
            "UPDATE policies SET document = ?, version = ?, modified_at = ? WHERE name = ?",
            (version.document, version.version, self._clock.now(), version.policy),
        )

    # ------------------------------------------------------------ lifecycle

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

    # ------------------------------------------------------------ internals

    def _open(self) -> sqlite3.Connection:
        try:
            private_database(self.path)
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5
            )
        except (OSError, sqlite3.Error) as error:
            raise RegistryDatabaseError(self.path, error) from error
        try:
            _prepare(self.path, connection)
        except sqlite3.Error as error:
            connection.close()
            raise RegistryDatabaseError(self.path, _explain(error)) from error
        except RegistryDatabaseError:
            connection.close()
            raise
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite errors become RegistryDatabaseError."""
        with self._lock:
            db = self._connection
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise RegistryDatabaseError(self.path, _explain(error)) from error
            try:
                yield db
            except sqlite3.Error as error:
                db.execute("ROLLBACK")
                raise RegistryDatabaseError(self.path, _explain(error)) from error
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as error:
                raise RegistryDatabaseError(self.path, _explain(error)) from error

    def _update_ca(
        self,
        db: sqlite3.Connection,
        ca_id: str,
        now: float,
        *,
        status: str | None,
        auto_registration: bool | None,
    ) -> None:
        db.execute(
            "UPDATE cas SET status = coalesce(?, status),"
            " auto_registration = coalesce(?, auto_registration), modified_at = ? WHERE id = ?",
            (status, None if auto_registration is None else int(auto_registration), now, ca_id),
        )

    def _check_principal(self, db: sqlite3.Connection, principal: str) -> None:
        if not principal:
            raise InvalidValueError("principal", principal, "must not be empty")
        if ":cert/" not in principal:
            return  # another kind of principal (a Cognito identity): taken as it is
        cert_id = self.certificate_id_of(principal)
        if cert_id is None or self._find_certificate(db, cert_id) is None:
            raise UnknownResourceError("certificate", principal)

    def _thing_principals(self, db: sqlite3.Connection, thing: str) -> list[str]:
        rows = db.execute(
            "SELECT principal FROM thing_principals WHERE thing = ? ORDER BY principal", (thing,)
        ).fetchall()
        return [str(principal) for (principal,) in rows]

    def _find_ca(self, db: sqlite3.Connection, ca_id: str) -> CaRecord | None:
        row = db.execute("SELECT * FROM cas WHERE id = ?", (ca_id,)).fetchone()
        return None if row is None else self._ca_record(row)

    def _require_ca(self, db: sqlite3.Connection, ca_id: str) -> CaRecord:
        found = self._find_ca(db, ca_id)
        if found is None:
            raise UnknownResourceError("CA certificate", ca_id)
        return found

    def _find_certificate(self, db: sqlite3.Connection, cert_id: str) -> CertificateRecord | None:
        row = db.execute("SELECT * FROM certificates WHERE id = ?", (cert_id,)).fetchone()
        return None if row is None else self._certificate_record(row)

    def _require_certificate(self, db: sqlite3.Connection, cert_id: str) -> CertificateRecord:
        found = self._find_certificate(db, cert_id)
        if found is None:
            raise UnknownResourceError("certificate", cert_id)
        return found

    def _find_thing(self, db: sqlite3.Connection, name: str) -> ThingRecord | None:
        row = db.execute("SELECT * FROM things WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._thing_record(row)

    def _require_thing(self, db: sqlite3.Connection, name: str) -> ThingRecord:
        found = self._find_thing(db, name)
        if found is None:
            raise UnknownResourceError("thing", name)
        return found

    def _find_policy(self, db: sqlite3.Connection, name: str) -> PolicyRecord | None:
        row = db.execute("SELECT * FROM policies WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._policy_record(row)

    def _require_policy(self, db: sqlite3.Connection, name: str) -> PolicyRecord:
        found = self._find_policy(db, name)
        if found is None:
            raise UnknownResourceError("policy", name)
        return found

    def _versions(self, db: sqlite3.Connection, policy: PolicyRecord) -> list[PolicyVersionRecord]:
        rows = db.execute(
            "SELECT * FROM policy_versions WHERE policy = ? ORDER BY version", (policy.name,)
        ).fetchall()
        return [self._version_record(row, policy.version) for row in rows]

    def _require_version(
        self, db: sqlite3.Connection, policy: PolicyRecord, version: int
    ) -> PolicyVersionRecord:
        row = db.execute(
            "SELECT * FROM policy_versions WHERE policy = ? AND version = ?",
            (policy.name, version),
        ).fetchone()
        if row is None:
            raise UnknownResourceError("policy version", f"{policy.name} {version}")
        return self._version_record(row, self._require_policy(db, policy.name).version)

    def _ca_record(self, row: Any) -> CaRecord:
        ca_id, pem, status, auto, created, modified = row
        return CaRecord(ca_id, self.ca_arn(ca_id), pem, status, bool(auto), created, modified)

    def _certificate_record(self, row: Any) -> CertificateRecord:
        cert_id, pem, status, ca_id, common_name, created, modified, last_seen = row
        return CertificateRecord(
            cert_id,
            self.certificate_arn(cert_id),
            pem,
            status,
            ca_id,
            created,
            modified,
            last_seen,
            common_name,
        )

    def _thing_record(self, row: Any) -> ThingRecord:
        name, thing_id, attributes, version, created = row
        return ThingRecord(
            name, self.thing_arn(name), thing_id, json.loads(attributes), version, created
        )

    def _policy_record(self, row: Any) -> PolicyRecord:
        name, document, version, created, modified, _last_version = row
        return PolicyRecord(name, self.policy_arn(name), document, version, created, modified)

    def _version_record(self, row: Any, default: int) -> PolicyVersionRecord:
        name, version, document, created = row
        arn = self.policy_arn(name)
        return PolicyVersionRecord(name, arn, version, document, version == default, created)


# ---------------------------------------------------------------- helpers


def _prepare(path: Path, connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
    # Reading the header here is what tells a database from any other file.
    (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode != "wal":
        raise RegistryDatabaseError(path, f"cannot use WAL mode (got {mode!r})")
    connection.execute("PRAGMA synchronous = NORMAL")
    problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise RegistryDatabaseError(path, f"corrupt: {'; '.join(problems[:3])}")
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version not in (0, 1, SCHEMA_VERSION):
        raise RegistryDatabaseError(
            path, f"schema version {version}; this program reads {SCHEMA_VERSION}"
        )
    connection.execute("BEGIN IMMEDIATE")  # a migration is done whole or not at all
    try:
        for statement in _SCHEMA + (_FROM_SCHEMA_1 if version == 1 else ()):
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


_DAMAGED: Final = frozenset((sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT))
_LOCKED: Final = frozenset((sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))


def _explain(error: sqlite3.Error) -> str:
    code = getattr(error, "sqlite_errorcode", None)
    if code in _DAMAGED:
        return f"not an SQLite database, or a damaged one ({error})"
    if code in _LOCKED:
        return f"locked by another process ({error})"
    return str(error)


def _load(pem: str | bytes) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise InvalidCertificateError(f"not a PEM certificate ({error})") from None


def _pem_text(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def is_signed_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca`'s key made the signature on `certificate` (and its name is the issuer)."""
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _check_choice(field_name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidValueError(field_name, value, f"use one of {', '.join(choices)}")


def _check_thing_name(name: str) -> None:
    """Refuse, as the registry's error, a name AWS IoT refuses (swan.core.names's check)."""
    try:
        check_thing_name(name)
    except InvalidThingNameError as error:
        raise InvalidValueError("thing name", name, error.problem) from None


def _check_policy(name: str, document: str) -> None:
    """Refuse, as the registry's errors, the name or document AWS IoT would refuse."""
    try:
        check_policy_name(name)
        check_policy_document(document)
    except PolicyNameError as error:
        raise InvalidValueError("policy name", name, error.problem) from None
    except UnsupportedPolicyError as error:
        raise UnsupportedPolicyDocumentError(name, error) from None
    except PolicyDocumentError as error:
        raise InvalidPolicyError(name, error) from None
