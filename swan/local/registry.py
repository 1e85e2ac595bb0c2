"""The local device registry: CA and device certificates, things, IoT policies and who is
attached to what, as AWS IoT's registry keeps them: what may be written, and when.

The device gateway looks every client certificate up here; the control-plane API
(swan.local.controlplane) serves the same records to boto3 `iot`. Both run in this process
on different threads, so the store's one connection is shared under a lock. The tables and
the records read from them are swan.local.registry_store's; what is refused, with the AWS
error for each, swan.local.registry_errors's.

Policies are kept as AWS IoT keeps them, in versions, and only if AWS would keep them
(swan.local.core.policy_rules): whoever writes one - the control plane, or `swan up` creating the
template's policies (`deploy_policy`) - meets the same checks, and each refusal carries the
AWS error (`aws_error`) the control plane answers with.

`on_change` callbacks run after a certificate's status changed, outside the lock, on the
thread that made the change: the gateway uses them to drop the live connections of a
certificate that is no longer ACTIVE. `on_ca_change` callbacks run likewise after a CA was
registered or changed: the gateway trusts a newly registered CA at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Self

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from swan.certs.authority import certificate_id
from swan.certs.checks import common_name, is_ca, signed_by
from swan.core.errors import InvalidThingNameError
from swan.core.names import check_thing_name
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
from swan.local.registry_errors import (
    CertificateStateError,
    InvalidCertificateError,
    InvalidPolicyError,
    InvalidValueError,
    PolicyConflictError,
    PolicyDeploymentError,
    RegistryDatabaseError,
    RegistryError,
    ResourceConflictError,
    ThingInUseError,
    TooManyPoliciesError,
    TooManyVersionsError,
    UnknownResourceError,
    UnsupportedPolicyDocumentError,
    VersionMismatchError,
)
from swan.local.registry_store import (
    CA_STATUSES,
    CERTIFICATE_STATUSES,
    CaRecord,
    CertificateRecord,
    PolicyRecord,
    PolicyVersionRecord,
    RegistryStore,
    ThingRecord,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path
    from types import TracebackType

    from swan.adapters.clock import Clock

log = logging.getLogger(__name__)


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
        self._store = RegistryStore(path, region=region, account_id=account_id)

    def certificate_id_of(self, arn: str) -> str | None:
        """The certificate id in one of this registry's certificate ARNs, else None."""
        return self._store.certificate_id_of(arn)

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
        if not is_ca(certificate):
            raise InvalidCertificateError("not a CA certificate (no basicConstraints CA:TRUE)")
        ca_id = certificate_id(certificate)
        now = self._clock.now()
        with self._transaction() as db:
            if self._store.find_ca(db, ca_id) is None:
                db.execute(
                    "INSERT INTO cas VALUES (?, ?, ?, ?, ?, ?)",
                    (ca_id, _pem_text(certificate), status, int(auto_registration), now, now),
                )
            else:
                self._store.update_ca(
                    db, ca_id, now, status=status, auto_registration=auto_registration
                )
            self._parsed_cas[ca_id] = certificate
            record = self._store.require_ca(db, ca_id)
        self._notify_ca(record)
        return record

    def ca(self, ca_id: str) -> CaRecord | None:
        with self._transaction() as db:
            return self._store.find_ca(db, ca_id)

    def cas(self) -> list[CaRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM cas ORDER BY created_at, rowid")
            return [self._store.ca_record(row) for row in rows.fetchall()]

    def set_ca(
        self, ca_id: str, *, status: str | None = None, auto_registration: bool | None = None
    ) -> CaRecord:
        if status is not None:
            _check_choice("CA status", status, CA_STATUSES)
        with self._transaction() as db:
            self._store.require_ca(db, ca_id)
            self._store.update_ca(
                db, ca_id, self._clock.now(), status=status, auto_registration=auto_registration
            )
            record = self._store.require_ca(db, ca_id)
        self._notify_ca(record)
        return record

    def ca_for(self, certificate: x509.Certificate) -> CaRecord | None:
        """The registered CA whose key signed `certificate` (an ACTIVE one first), or None.

        The signature is checked, not just the issuer's name: another CA may share it.
        """
        candidates = sorted(self.cas(), key=lambda ca: ca.status != "ACTIVE")
        for ca in candidates:
            if signed_by(certificate, self._parsed_ca(ca)):
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
            existing = self._store.find_certificate(db, cert_id)
            if existing is not None:
                return existing
            if ca_id is not None:
                ca = self._store.require_ca(db, ca_id)
                if not signed_by(certificate, self._parsed_ca(ca)):
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
            return self._store.require_certificate(db, cert_id)

    def certificate(self, cert_id: str) -> CertificateRecord | None:
        with self._transaction() as db:
            return self._store.find_certificate(db, cert_id)

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
            return [self._store.certificate_record(row) for row in rows.fetchall()]

    def set_certificate_status(self, cert_id: str, status: str) -> CertificateRecord:
        """Change the status (a no-op if it is already `status`); REVOKED is for good."""
        _check_choice("certificate status", status, CERTIFICATE_STATUSES)
        with self._transaction() as db:
            before = self._store.require_certificate(db, cert_id)
            if before.status == status:
                return before
            if before.status == "REVOKED":
                raise CertificateStateError(cert_id, before.status, status)
            db.execute(
                "UPDATE certificates SET status = ?, modified_at = ? WHERE id = ?",
                (status, self._clock.now(), cert_id),
            )
            after = self._store.require_certificate(db, cert_id)
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
            existing = self._store.find_thing(db, name)
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
            return self._store.require_thing(db, name)

    def thing(self, name: str) -> ThingRecord | None:
        with self._transaction() as db:
            return self._store.find_thing(db, name)

    def things(self) -> list[ThingRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM things ORDER BY name").fetchall()
            return [self._store.thing_record(row) for row in rows]

    def delete_thing(self, name: str, *, expected_version: int | None = None) -> bool:
        """Delete the thing; False if there was none. It must have no principals attached."""
        with self._transaction() as db:
            thing = self._store.find_thing(db, name)
            if thing is None:
                return False
            if expected_version is not None and expected_version != thing.version:
                raise VersionMismatchError(name, thing.version, expected_version)
            principals = self._store.thing_principals(db, name)
            if principals:
                raise ThingInUseError(name, principals)
            db.execute("DELETE FROM things WHERE name = ?", (name,))
            return True

    def attach_thing_principal(self, thing: str, principal: str) -> None:
        with self._transaction() as db:
            self._store.require_thing(db, thing)
            self._check_principal(db, principal)
            db.execute("INSERT OR IGNORE INTO thing_principals VALUES (?, ?)", (thing, principal))

    def detach_thing_principal(self, thing: str, principal: str) -> None:
        with self._transaction() as db:
            self._store.require_thing(db, thing)
            db.execute(
                "DELETE FROM thing_principals WHERE thing = ? AND principal = ?",
                (thing, principal),
            )

    def thing_principals(self, thing: str) -> list[str]:
        with self._transaction() as db:
            self._store.require_thing(db, thing)
            return self._store.thing_principals(db, thing)

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
            existing = self._store.find_policy(db, name)
            if existing is not None:
                raise ResourceConflictError("policy", name, existing.arn, "")
            return self._store.insert_policy(db, name, document, self._clock.now())

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
            return self._store.find_policy(db, name)

    def policies(self) -> list[PolicyRecord]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM policies ORDER BY name").fetchall()
            return [self._store.policy_record(row) for row in rows]

    def policy_versions(self, name: str) -> list[PolicyVersionRecord]:
        """Every version of the policy, oldest first."""
        with self._transaction() as db:
            return self._store.versions(db, self._store.require_policy(db, name))

    def policy_version(self, name: str, version: int) -> PolicyVersionRecord:
        with self._transaction() as db:
            return self._store.require_version(db, self._store.require_policy(db, name), version)

    def set_default_policy_version(self, name: str, version: int) -> PolicyRecord:
        """SetDefaultPolicyVersion: the version becomes the one in effect."""
        with self._transaction() as db:
            chosen = self._store.require_version(db, self._store.require_policy(db, name), version)
            self._store.make_default(db, chosen, self._clock.now())
            return self._store.require_policy(db, name)

    def delete_policy_version(self, name: str, version: int) -> None:
        """DeletePolicyVersion: any version but the default."""
        with self._transaction() as db:
            chosen = self._store.require_version(db, self._store.require_policy(db, name), version)
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
            policy = self._store.require_policy(db, name)
            if db.execute("SELECT 1 FROM policy_targets WHERE policy = ?", (name,)).fetchone():
                raise PolicyConflictError(name, "it is attached to one or more targets")
            if len(self._store.versions(db, policy)) > 1:
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
                existing = self._store.find_policy(db, name)
                if existing is None:
                    return self._store.insert_policy(db, name, document, self._clock.now())
                stored = [
                    StoredVersion(v.version, v.is_default, decode_policy(v.document))
                    for v in self._store.versions(db, existing)
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
                return self._store.require_policy(db, name)
        except RegistryDatabaseError:
            raise
        except RegistryError as error:
            raise PolicyDeploymentError(logical_id, error) from error

    def attach_policy(self, name: str, target: str) -> None:
        """AttachPolicy: again changes nothing; an eleventh policy for a target is refused."""
        with self._transaction() as db:
            self._store.require_policy(db, name)
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
            self._store.require_policy(db, name)
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
            return [self._store.policy_record(row) for row in rows]

    def _add_version(
        self, db: sqlite3.Connection, name: str, document: str, *, set_as_default: bool
    ) -> PolicyVersionRecord:
        policy = self._store.require_policy(db, name)
        try:
            check_new_version(name, len(self._store.versions(db, policy)))
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
        added = self._store.require_version(db, policy, version)
        if set_as_default:
            self._store.make_default(db, added, self._clock.now())
        return self._store.require_version(db, policy, version)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._lock:
            self._store.close()

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

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite errors become RegistryDatabaseError."""
        with self._lock, self._store.transaction() as db:
            yield db

    def _check_principal(self, db: sqlite3.Connection, principal: str) -> None:
        if not principal:
            raise InvalidValueError("principal", principal, "must not be empty")
        if ":cert/" not in principal:
            return  # another kind of principal (a Cognito identity): taken as it is
        cert_id = self.certificate_id_of(principal)
        if cert_id is None or self._store.find_certificate(db, cert_id) is None:
            raise UnknownResourceError("certificate", principal)


# ---------------------------------------------------------------- helpers


def _load(pem: str | bytes) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise InvalidCertificateError(f"not a PEM certificate ({error})") from None


def _pem_text(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


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
