"""What can go wrong with the project's certificates, each error with its own message.

A bad thing name is the core's `InvalidThingNameError` (swan.core.names has the check),
named here too for the certificate code's callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from swan.core.errors import InvalidThingNameError, SwanError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CertificateExistsError",
    "CertificateRequestError",
    "CertificateStoreError",
    "InvalidPemError",
    "InvalidThingNameError",
    "MissingCertificateError",
    "UnfitCertificateError",
    "UnusableCertificateError",
]

CertificateFault = Literal[
    "expired",
    "not_yet_valid",
    "not_a_ca",
    "not_signed_by_ca",
    "unsupported_key",
    "unsupported_signature_algorithm",
    "wrong_registration_code",
]


class CertificateRequestError(SwanError, ValueError):
    """A certificate cannot be issued as asked: a bad name, address, lifetime or CA."""

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"invalid {field} {value!r}: {problem}")


class InvalidPemError(SwanError, ValueError):
    """Bytes that should hold a PEM certificate, private key or CRL do not."""

    def __init__(self, source: str, kind: str, problem: str) -> None:
        self.source = source
        self.kind = kind
        self.problem = problem
        super().__init__(f"{source}: not a usable PEM {kind}: {problem}")


class CertificateExistsError(SwanError, ValueError):
    """Writing would replace a certificate or key, and replacing was not asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} already exists; use --force to replace it")


class MissingCertificateError(SwanError, ValueError):
    """A certificate or key the operation needs has not been created yet."""

    def __init__(self, what: str, path: Path, hint: str) -> None:
        self.what = what
        self.path = path
        self.hint = hint
        super().__init__(f"no {what} at {path}: {hint}")


class UnusableCertificateError(SwanError, ValueError):
    """A stored certificate exists but cannot be used: expired, or from another CA."""

    def __init__(self, what: str, path: Path, problem: str, hint: str) -> None:
        self.what = what
        self.path = path
        self.problem = problem
        self.hint = hint
        super().__init__(f"the {what} at {path} {problem}: {hint}")


class CertificateStoreError(SwanError, OSError):
    """The certificate folder cannot be read or written (permissions, a full disk)."""

    def __init__(self, path: Path, action: str, reason: str) -> None:
        self.path = path
        self.action = action
        self.reason = reason
        super().__init__(f"cannot {action} {path}: {reason}")


class UnfitCertificateError(SwanError, ValueError):
    """A certificate AWS IoT would not take (swan.certs.checks): `what` it is ("CA
    certificate", "certificate", ...), its `fault` (expired, not_yet_valid, not_a_ca,
    not_signed_by_ca, unsupported_key, unsupported_signature_algorithm,
    wrong_registration_code) and the `problem` in words."""

    def __init__(self, what: str, fault: CertificateFault, problem: str) -> None:
        self.what = what
        self.fault = fault
        self.problem = problem
        super().__init__(f"the {what} {problem}")
