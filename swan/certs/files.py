"""The certificate folder; the only module in `swan.certs` with I/O.

By default `certs/` in the current directory (`--certs-dir`, `SWAN_CERTS_DIR`), apart from
the state directory: it is where a Pi's or a button's certificate is copied from. Layout:

    ca.pem, ca.key                      the local CA
    server.pem, server.key              the TLS server certificate (broker, device gateway)
    devices/<thing>.pem, <thing>.key    one client certificate per device, CN = thing name
    verification.pem, verification.key  CN = the AWS registration code, to register the CA
    revoked.json                        the revoked certificates, kept by `revoke`
    crl.pem                             the CA's CRL, rebuilt from revoked.json

Private keys are created 0600 and never widened; everything else is 0644. Each file is
written to a temporary file and renamed into place, so a reader sees all of it or none.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from swan.certs import authority, checks, defaults
from swan.certs.authority import Issued
from swan.certs.errors import (
    CertificateExistsError,
    CertificateRequestError,
    CertificateStoreError,
    MissingCertificateError,
    UnusableCertificateError,
)
from swan.certs.folder import CertificateFolder, PemFiles

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from cryptography import x509

KEY_MODE: Final = 0o600
PUBLIC_MODE: Final = 0o644


@dataclass(frozen=True)
class Stored:
    """A certificate and key, where they are, and whether this call wrote them."""

    issued: Issued
    files: PemFiles
    created: bool


@dataclass(frozen=True)
class Listed:
    """A certificate found in the store, for `swan certs show`."""

    role: str
    path: Path
    certificate: x509.Certificate


@dataclass(frozen=True)
class _Role:
    what: str
    files: PemFiles
    command: str

    @property
    def to_create(self) -> str:
        return f"run '{self.command}' first"

    @property
    def to_replace(self) -> str:
        return f"run '{self.command} --force' to replace it"


class CertificateStore(CertificateFolder):
    """The CA, server, device and verification certificates kept in one folder: made,
    loaded, listed and revoked (where each lives: swan.certs.folder)."""

    # ------------------------------------------------------------ create (refuse to overwrite)

    def create_ca(
        self,
        *,
        now: datetime,
        days: int = defaults.CA_DAYS,
        common_name: str = defaults.DEFAULT_CA_NAME,
        force: bool = False,
    ) -> Stored:
        files = self.ca_files
        _refuse_existing(files, force=force)
        issued = authority.create_ca(common_name, now=now, days=days)
        return self._save(files, issued)

    def create_server(
        self,
        *,
        now: datetime,
        hostnames: Iterable[str] = defaults.SERVER_HOSTNAMES,
        ips: Iterable[str] = defaults.SERVER_IPS,
        days: int = defaults.SERVER_DAYS,
        force: bool = False,
    ) -> Stored:
        files = self.server_files
        _refuse_existing(files, force=force)
        issued = authority.issue_server(self.load_ca(), hostnames, ips, now=now, days=days)
        return self._save(files, issued)

    def create_device(
        self,
        thing_name: str,
        *,
        now: datetime,
        days: int = defaults.DEVICE_DAYS,
        force: bool = False,
    ) -> Stored:
        files = self.device_files(thing_name)
        _refuse_existing(files, force=force)
        issued = authority.issue_device(self.load_ca(), thing_name, now=now, days=days)
        return self._save(files, issued)

    def create_verification(
        self,
        registration_code: str,
        *,
        now: datetime,
        days: int = defaults.VERIFICATION_DAYS,
        force: bool = False,
    ) -> Stored:
        files = self.verification_files
        _refuse_existing(files, force=force)
        issued = authority.issue_verification(self.load_ca(), registration_code, now=now, days=days)
        return self._save(files, issued)

    # ------------------------------------------------------------ ensure (create what is missing)

    def ensure_ca(self, *, now: datetime) -> Stored:
        """The CA, created if there is none; an expired CA is an error, not replaced."""
        role = self._ca_role()
        if not _any_exists(role.files):
            return self.create_ca(now=now)
        issued = self._load(role)
        if not checks.is_valid_at(issued.certificate, now):
            expiry = issued.certificate.not_valid_after_utc
            raise UnusableCertificateError(
                role.what,
                role.files.certificate,
                f"is not valid now (valid until {expiry:%Y-%m-%d %H:%M} UTC)",
                f"{role.to_replace}, then reissue the server and device certificates",
            )
        return Stored(issued, role.files, created=False)

    def ensure_server(self, *, now: datetime) -> Stored:
        """A server certificate for localhost and 127.0.0.1, created if there is none."""
        ca = self.ensure_ca(now=now)
        role = self._server_role()
        if not _any_exists(role.files):
            return self.create_server(now=now)
        return self._usable(role, ca.issued, now)

    def ensure_device(self, thing_name: str, *, now: datetime) -> Stored:
        """The device's certificate, created (with the CA, if need be) if there is none."""
        ca = self.ensure_ca(now=now)
        role = self._device_role(thing_name)
        if not _any_exists(role.files):
            return self.create_device(thing_name, now=now)
        return self._usable(role, ca.issued, now)

    # ------------------------------------------------------------ load

    def load_ca(self) -> Issued:
        return self._load(self._ca_role())

    def load_server(self) -> Issued:
        return self._load(self._server_role())

    def load_device(self, thing_name: str) -> Issued:
        return self._load(self._device_role(thing_name))

    def load_verification(self) -> Issued:
        return self._load(self._verification_role())

    def list_certificates(self) -> list[Listed]:
        """Every certificate in the store: the CA, server, verification, then devices by name."""
        found = [
            ("CA", self.ca_files.certificate),
            ("server", self.server_files.certificate),
            ("verification", self.verification_files.certificate),
        ]
        devices = self.directory / "devices"
        found += [(f"device {path.stem}", path) for path in sorted(devices.glob("*.pem"))]
        return [
            Listed(role, path, authority.load_certificate_pem(data, str(path)))
            for role, path in found
            if (data := _read(path)) is not None
        ]

    # ------------------------------------------------------------ revocation

    def revoked(self) -> dict[int, datetime]:
        """The serial numbers revoked under the current CA, with their revocation dates."""
        ca_id = authority.certificate_id(self.load_ca().certificate)
        return {
            int(entry["serial"], 16): datetime.fromisoformat(entry["revokedAt"])
            for entry in self._revocations()
            if entry["caCertificateId"] == ca_id
        }

    def revoke(self, certificate: x509.Certificate, *, now: datetime) -> Path:
        """Record the certificate as revoked (once) and rebuild crl.pem; returns its path."""
        ca = self.load_ca()
        if not checks.signed_by(certificate, ca.certificate):
            raise CertificateRequestError(
                "certificate", certificate.subject.rfc4514_string(), "was not issued by this CA"
            )
        entries = self._revocations()
        serial = f"{certificate.serial_number:x}"
        ca_id = authority.certificate_id(ca.certificate)
        if not any(e["serial"] == serial and e["caCertificateId"] == ca_id for e in entries):
            entries.append(
                {
                    "serial": serial,
                    "revokedAt": now.isoformat(),
                    "certificateId": authority.certificate_id(certificate),
                    "subject": certificate.subject.rfc4514_string(),
                    "caCertificateId": ca_id,
                }
            )
            text = json.dumps({"revoked": entries}, indent=2) + "\n"
            _write(self.revoked_path, text.encode(), PUBLIC_MODE)
        return self.write_crl(now=now)

    def write_crl(self, *, now: datetime, next_update_days: int = defaults.CRL_DAYS) -> Path:
        """Rebuild crl.pem from revoked.json, signed by the current CA; returns its path."""
        crl = authority.build_crl(
            self.load_ca(), self.revoked(), now=now, next_update_days=next_update_days
        )
        _write(self.crl_path, authority.crl_pem(crl), PUBLIC_MODE)
        return self.crl_path

    # ------------------------------------------------------------ helpers

    def _ca_role(self) -> _Role:
        return _Role("CA", self.ca_files, "swan certs ca")

    def _server_role(self) -> _Role:
        return _Role("server certificate", self.server_files, "swan certs server")

    def _device_role(self, thing_name: str) -> _Role:
        return _Role(
            f"certificate for device {thing_name!r}",
            self.device_files(thing_name),
            f"swan certs device {thing_name}",
        )

    def _verification_role(self) -> _Role:
        return _Role("verification certificate", self.verification_files, "swan certs verification")

    def _load(self, role: _Role) -> Issued:
        certificate, key = role.files.certificate, role.files.key
        issued = Issued(
            authority.load_certificate_pem(_require(role, certificate), str(certificate)),
            authority.load_private_key_pem(_require(role, key), str(key)),
        )
        if not authority.matches(issued):
            raise UnusableCertificateError(
                role.what, role.files.key, "does not belong to its certificate", role.to_replace
            )
        return issued

    def _usable(self, role: _Role, ca: Issued, now: datetime) -> Stored:
        issued = self._load(role)
        if not checks.verify_issued_by(issued.certificate, ca.certificate, now=now):
            raise UnusableCertificateError(
                role.what,
                role.files.certificate,
                "has expired or was issued by another CA",
                role.to_replace,
            )
        return Stored(issued, role.files, created=False)

    def _save(self, files: PemFiles, issued: Issued) -> Stored:
        # The key first: a certificate on disk always has its key next to it.
        _write(files.key, authority.private_key_pem(issued.private_key), KEY_MODE)
        _write(files.certificate, authority.certificate_pem(issued.certificate), PUBLIC_MODE)
        return Stored(issued, files, created=True)

    def _revocations(self) -> list[dict[str, Any]]:
        data = _read(self.revoked_path)
        if data is None:
            return []
        try:
            entries = json.loads(data)["revoked"]
        except (ValueError, KeyError, TypeError) as error:
            raise UnusableCertificateError(
                "revocation list",
                self.revoked_path,
                f"cannot be read ({error})",
                "fix or remove it, then revoke again",
            ) from None
        if not isinstance(entries, list):
            raise UnusableCertificateError(
                "revocation list", self.revoked_path, "holds no list", "fix or remove it"
            )
        return entries


def _any_exists(files: PemFiles) -> bool:
    return files.certificate.exists() or files.key.exists()


def _refuse_existing(files: PemFiles, *, force: bool) -> None:
    # Checked for both files before anything is written, so a refusal leaves no trace.
    if force:
        return
    for path in (files.certificate, files.key):
        if path.exists():
            raise CertificateExistsError(path)


def _require(role: _Role, path: Path) -> bytes:
    data = _read(path)
    if data is None:
        raise MissingCertificateError(role.what, path, role.to_create)
    return data


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CertificateStoreError(path, "read", error.strerror or str(error)) from error


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, then a rename."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with its final mode: a private key is never readable by others, not even
        # for a moment.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as stream:
            if mode != KEY_MODE:
                # The umask may have narrowed a public file; widening it exposes nothing.
                os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(path)  # os.replace: atomic on POSIX
        _sync_directory(path.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise CertificateStoreError(path, "write", error.strerror or str(error)) from error


def _sync_directory(directory: Path) -> None:
    # Makes the rename itself durable, not just the file's bytes.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
