"""What AWS IoT asks of the certificates it takes: one home for every X.509 check.

Pure: the caller passes `now` (an aware datetime). Each check raises `UnfitCertificateError`
naming what is checked (`what`: "certificate", "CA certificate", ...) and its `fault`; the
callers answer in their own words: the control plane (swan.local.controlplane, AWS's
`CertificateValidationException`), the registry (swan.local.registry), the register handler
(swan.handlers.register, a JITR refusal), the certificate folder and `swan certs show`.

AWS IoT's rules, as its developer guide states them:

- Signature algorithms (X.509 client certificates,
  https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html): AWS IoT
  supports SHA256WITHRSA, SHA384WITHRSA, SHA512WITHRSA, RSASSA-PSS, DSA_WITH_SHA256,
  ECDSA-WITH-SHA256, ECDSA-WITH-SHA384 and ECDSA-WITH-SHA512: no SHA-1, MD5 or EdDSA.
- Keys (CreateCertificateFromCsr, and the device certificate key quality audit check,
  https://docs.aws.amazon.com/iot/latest/developerguide/audit-chk-device-cert-key-quality.html):
  an RSA key of at least 2048 bits, or an ECC key on NIST P-256, P-384 or P-521; a DSA key
  goes with DSA_WITH_SHA256.
- A CA certificate (Register your CA certificate,
  https://docs.aws.amazon.com/iot/latest/developerguide/register-CA-cert.html, and the
  RegisterCACertificate API): a CA (basicConstraints CA:TRUE), valid now; in DEFAULT mode a
  verification certificate signed by the CA's key whose common name is the account's
  registration code (`get-registration-code`).
- A client certificate registered with a CA (Register a client certificate,
  https://docs.aws.amazon.com/iot/latest/developerguide/register-device-cert.html) or just in
  time (https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html):
  signed by that registered CA, both valid now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from swan.certs.errors import CertificateRequestError, UnfitCertificateError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

SIGNATURE_ALGORITHMS: Final[Mapping[x509.ObjectIdentifier, str]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: "SHA256WITHRSA",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "SHA384WITHRSA",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "SHA512WITHRSA",
    SignatureAlgorithmOID.RSASSA_PSS: "RSASSA-PSS",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "DSA_WITH_SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ECDSA-WITH-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ECDSA-WITH-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ECDSA-WITH-SHA512",
}
"""The certificate-signing algorithms AWS IoT supports, by OID, with AWS's names."""

MIN_RSA_BITS: Final = 2048
EC_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})
"""NIST P-256, P-384 and P-521, by the names `cryptography` gives them."""

CA: Final = "CA certificate"
CERTIFICATE: Final = "certificate"
VERIFICATION: Final = "verification certificate"


# ---------------------------------------------------------------- one property each


def check_valid_at(certificate: x509.Certificate, now: datetime, what: str = CERTIFICATE) -> None:
    """Refuse a certificate whose validity period does not hold `now`."""
    _aware(now)
    if now < certificate.not_valid_before_utc:
        start = certificate.not_valid_before_utc.isoformat()
        raise UnfitCertificateError(what, "not_yet_valid", f"is valid only from {start}")
    if now > certificate.not_valid_after_utc:
        end = certificate.not_valid_after_utc.isoformat()
        raise UnfitCertificateError(what, "expired", f"expired at {end}")


def is_valid_at(certificate: x509.Certificate, now: datetime) -> bool:
    """Whether `now` falls within the certificate's validity period (its signature aside)."""
    try:
        check_valid_at(certificate, now)
    except UnfitCertificateError:
        return False
    return True


def check_algorithms(certificate: x509.Certificate, what: str = CERTIFICATE) -> None:
    """Refuse a signature algorithm or a key AWS IoT does not take."""
    oid = certificate.signature_algorithm_oid
    if oid not in SIGNATURE_ALGORITHMS:
        supported = ", ".join(SIGNATURE_ALGORITHMS.values())
        raise UnfitCertificateError(
            what,
            "unsupported_signature_algorithm",
            f"is signed with the algorithm {oid.dotted_string}; AWS IoT takes {supported}",
        )
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            problem = f"has a {key.key_size}-bit RSA key; AWS IoT takes {MIN_RSA_BITS} bits or more"
            raise UnfitCertificateError(what, "unsupported_key", problem)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            problem = f"has an ECC key on {key.curve.name}; AWS IoT takes NIST P-256, P-384, P-521"
            raise UnfitCertificateError(what, "unsupported_key", problem)
    elif not isinstance(key, dsa.DSAPublicKey):
        problem = f"has a {type(key).__name__}; AWS IoT takes RSA, ECC (NIST curves) or DSA keys"
        raise UnfitCertificateError(what, "unsupported_key", problem)


def is_ca(certificate: x509.Certificate) -> bool:
    """Whether the certificate says it is a CA (basicConstraints CA:TRUE)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def check_is_ca(certificate: x509.Certificate) -> None:
    """Refuse a certificate that is not a CA's (basicConstraints CA:TRUE)."""
    if not is_ca(certificate):
        raise UnfitCertificateError(CA, "not_a_ca", "is not a CA (no basicConstraints CA:TRUE)")


def signed_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca`'s key made the signature on `certificate` and `ca` is its issuer by name.

    The signature is checked, not just the issuer's name: another CA may share the name."""
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_signed_by(
    certificate: x509.Certificate, ca: x509.Certificate, what: str = CERTIFICATE
) -> None:
    """Refuse a certificate the CA's key did not sign."""
    if not signed_by(certificate, ca):
        raise UnfitCertificateError(what, "not_signed_by_ca", "is not signed by the CA's key")


def common_name(certificate: x509.Certificate) -> str | None:
    """The subject's common name, if it has one."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


# ---------------------------------------------------------------- what AWS IoT takes


def check_ca_certificate(ca: x509.Certificate, *, now: datetime) -> None:
    """A CA certificate AWS IoT registers (RegisterCACertificate): a CA, valid now, with a
    key and signature it supports."""
    check_is_ca(ca)
    check_valid_at(ca, now, CA)
    check_algorithms(ca, CA)


def check_verification_certificate(
    verification: x509.Certificate,
    ca: x509.Certificate,
    registration_code: str,
    *,
    now: datetime,
) -> None:
    """The proof that the registrant holds the CA's key: signed by it, valid now, its common
    name the account's registration code (fault `wrong_registration_code`)."""
    check_signed_by(verification, ca, VERIFICATION)
    check_valid_at(verification, now, VERIFICATION)
    if common_name(verification) != registration_code:
        raise UnfitCertificateError(
            VERIFICATION,
            "wrong_registration_code",
            "has a common name other than the registration code",
        )


def check_client_certificate(
    certificate: x509.Certificate, ca: x509.Certificate | None, *, now: datetime
) -> None:
    """A device's client certificate AWS IoT registers or activates: signed by the
    registered CA `ca` (None: registered without a CA), that CA and it valid now, with a key
    and signature AWS IoT supports."""
    if ca is not None:
        check_signed_by(certificate, ca)
        check_valid_at(ca, now, CA)
    check_valid_at(certificate, now)
    check_algorithms(certificate)


def verify_issued_by(certificate: x509.Certificate, ca: x509.Certificate, *, now: datetime) -> bool:
    """Whether the CA `ca` signed `certificate` and both are valid at `now`: the check for
    whatever the CA issued (client, server or verification certificate)."""
    try:
        check_is_ca(ca)
        check_signed_by(certificate, ca)
        check_valid_at(ca, now, CA)
        check_valid_at(certificate, now)
    except UnfitCertificateError:
        return False
    return True


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CertificateRequestError("now", moment, "must be an aware datetime (with a timezone)")
