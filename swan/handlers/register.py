"""The register handler: just-in-time registration (JITR) of device certificates.

A device's first connect with a certificate signed by a CA registered for auto-registration
leaves that certificate PENDING_ACTIVATION and publishes
`$aws/events/certificates/registered/<caCertificateId>`. This handler, fed by a topic rule on
that topic, checks the certificate and, if it is fit, gives the device its identity: the
thing named by the certificate's common name, the device policy on the certificate, the
certificate on the thing, and only then ACTIVE, so the device's next connect finds
everything in place.

A refusal (a revoked or unfit certificate, a CA that is off or does not auto-register, a
reserved name) is logged and returned; the certificate is left as it is. Any other error
propagates, and Lambda retries. Every step is idempotent, so a retry or a second event ends
in the same state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from swan.adapters.iot import ACTIVE, PENDING_ACTIVATION, REVOKED, CertificateStateError
from swan.certs import checks
from swan.certs.authority import load_certificate_pem
from swan.certs.errors import (
    CertificateFault,
    InvalidPemError,
    InvalidThingNameError,
    UnfitCertificateError,
)
from swan.certs.folder import check_thing_name
from swan.core.codecs import CertificateRegistered
from swan.core.errors import InvalidPayloadError
from swan.core.topics import BUTTON_THING, WEB_IDENTITIES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cryptography import x509

    from swan.adapters.clock import Clock
    from swan.adapters.iot import CaCertificate, DeviceCertificate, DeviceRegistry

log = logging.getLogger(__name__)

# The button's shadow is not a device's, nor is the level of the browsers' push topics.
RESERVED_THING_NAMES: Final = frozenset({BUTTON_THING, WEB_IDENTITIES})

RefusalReason = Literal[
    "unknown_certificate",
    "revoked",
    "not_pending",
    "ca_mismatch",
    "unknown_ca",
    "ca_inactive",
    "auto_registration_disabled",
    "unreadable_certificate",
    "ca_not_valid",
    "invalid_thing_name",
    "reserved_thing_name",
    "certificate_state",
    # and what AWS IoT finds unfit in the certificate (swan.certs.checks): not_signed_by_ca,
    # expired, not_yet_valid, unsupported_key, unsupported_signature_algorithm
    CertificateFault,
]


@dataclass(frozen=True)
class RegistrationPorts:
    registry: DeviceRegistry
    clock: Clock
    policy_name: str  # the device policy every registered certificate gets


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    message: str


@dataclass(frozen=True)
class Fit:
    """The certificate may have its identity: the thing it names."""

    thing_name: str


def handle_registration(event: Mapping[str, Any], ports: RegistrationPorts) -> dict[str, Any]:
    """Entry point for the JITR topic rule (`SELECT * FROM '$aws/events/certificates/...'`)."""
    try:
        registered = CertificateRegistered.from_payload(event)
    except InvalidPayloadError as error:
        log.warning("ignored a malformed registration event: %s", error)
        return {"outcome": "malformed", "reason": str(error)}
    registry = ports.registry
    certificate = registry.describe_certificate(registered.certificate_id)
    if certificate is None:
        refusal = Refusal("unknown_certificate", "the registry has no such certificate")
        return _refused(registered.certificate_id, refusal)
    ca = registry.describe_ca_certificate(registered.ca_certificate_id)
    now = datetime.fromtimestamp(ports.clock.now(), UTC)
    verdict = judge(certificate, ca, registered.ca_certificate_id, now=now)
    if isinstance(verdict, Refusal):
        return _refused(registered.certificate_id, verdict)
    return _give_identity(registry, certificate, verdict.thing_name, ports.policy_name)


def judge(
    certificate: DeviceCertificate,
    ca: CaCertificate | None,
    ca_certificate_id: str,
    *,
    now: datetime,
) -> Fit | Refusal:
    """Whether `certificate`, announced as signed by `ca_certificate_id`, may be activated."""
    refusal = _certificate_refusal(certificate, ca_certificate_id)
    if refusal is not None:
        return refusal
    if ca is None:
        return Refusal("unknown_ca", f"CA {ca_certificate_id} is not registered")
    refusal = _ca_refusal(ca)
    if refusal is not None:
        return refusal
    try:
        device = load_certificate_pem(certificate.pem.encode(), "certificate")
        authority = load_certificate_pem(ca.pem.encode(), "CA certificate")
    except InvalidPemError as error:
        return Refusal("unreadable_certificate", str(error))
    return _unfit(device, authority, now) or _thing_name(device)


def _certificate_refusal(certificate: DeviceCertificate, ca_certificate_id: str) -> Refusal | None:
    status = certificate.status
    if status == REVOKED:
        return Refusal("revoked", "a revoked certificate is never activated again")
    if status not in (PENDING_ACTIVATION, ACTIVE):
        return Refusal("not_pending", f"the certificate is {status}, not PENDING_ACTIVATION")
    announced = certificate.ca_certificate_id
    if announced is not None and announced != ca_certificate_id:
        return Refusal("ca_mismatch", f"the registry says CA {announced} issued it")
    return None


def _ca_refusal(ca: CaCertificate) -> Refusal | None:
    if ca.status != ACTIVE:
        return Refusal("ca_inactive", f"CA {ca.certificate_id} is {ca.status}")
    if not ca.auto_registration:
        return Refusal(
            "auto_registration_disabled", f"CA {ca.certificate_id} does not auto-register"
        )
    return None


def _unfit(device: x509.Certificate, authority: x509.Certificate, now: datetime) -> Refusal | None:
    """AWS IoT's rules for a client certificate of a registered CA (swan.certs.checks)."""
    try:
        checks.check_client_certificate(device, authority, now=now)
    except UnfitCertificateError as error:
        validity = error.fault in ("expired", "not_yet_valid")
        reason: RefusalReason = (
            "ca_not_valid" if error.what == checks.CA and validity else error.fault
        )
        return Refusal(reason, str(error))
    return None


def _thing_name(device: x509.Certificate) -> Fit | Refusal:
    """The thing the certificate names: its common name, if a device may have it."""
    common_name = checks.common_name(device)
    if not common_name:
        return Refusal("invalid_thing_name", "the certificate has no common name")
    try:
        check_thing_name(common_name)
    except InvalidThingNameError as error:
        return Refusal("invalid_thing_name", str(error))
    if common_name in RESERVED_THING_NAMES:
        return Refusal(
            "reserved_thing_name", f"{common_name!r} is reserved; devices may not use it"
        )
    return Fit(common_name)


def _give_identity(
    registry: DeviceRegistry, certificate: DeviceCertificate, thing: str, policy_name: str
) -> dict[str, Any]:
    # Activation comes last: until then the device cannot connect, so it never finds its
    # thing or policy missing.
    registry.create_thing(thing)
    registry.attach_policy(policy_name, certificate.arn)
    registry.attach_thing_principal(thing, certificate.arn)
    summary = {"certificateId": certificate.certificate_id, "thingName": thing}
    if certificate.status == ACTIVE:
        log.info("certificate %s was already active for %s", certificate.certificate_id, thing)
        return {"outcome": "already_active", **summary}
    try:
        registry.activate_certificate(certificate.certificate_id)
    except CertificateStateError as error:  # revoked meanwhile
        return _refused(certificate.certificate_id, Refusal("certificate_state", str(error)))
    log.info("certificate %s activated for thing %s", certificate.certificate_id, thing)
    return {"outcome": "activated", **summary}


def _refused(certificate_id: str, refusal: Refusal) -> dict[str, Any]:
    log.warning(
        "certificate %s not activated (%s): %s", certificate_id, refusal.reason, refusal.message
    )
    return {
        "outcome": "refused",
        "reason": refusal.reason,
        "message": refusal.message,
        "certificateId": certificate_id,
    }
