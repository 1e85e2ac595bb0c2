"""The local certificate authority: build CA, device, server and verification certificates.

Pure builders: no files, no clock (the caller passes `now`, an aware datetime). Keys are EC
P-256, quick to make and accepted by AWS IoT, mosquitto and the AWS device SDKs. A CA loaded
from elsewhere may hold an RSA or Ed25519/Ed448 key; it signs just the same.

The certificate id is what AWS IoT calls `certificateId`: the SHA-256 of the DER bytes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from swan.certs.checks import is_valid_at
from swan.certs.defaults import (
    CA_DAYS,
    CRL_DAYS,
    DEFAULT_CA_NAME,
    DEVICE_DAYS,
    SERVER_DAYS,
    SERVER_HOSTNAMES,
    SERVER_IPS,
    VERIFICATION_DAYS,
)
from swan.certs.errors import CertificateRequestError, InvalidPemError
from swan.certs.folder import MAX_COMMON_NAME, check_thing_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# The keys that can sign certificates, CRLs and TLS handshakes.
SigningKey = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)

ORGANIZATION: Final = "The Swan"
# Certificates start a little before `now`, so a peer whose clock runs slightly behind
# does not see a certificate that is "not yet valid".
CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_HOSTNAME: Final = 253
_DNS_LABEL: Final = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")


@dataclass(frozen=True)
class Issued:
    """A certificate and the private key that goes with it."""

    certificate: x509.Certificate
    private_key: SigningKey


def create_ca(common_name: str = DEFAULT_CA_NAME, *, now: datetime, days: int = CA_DAYS) -> Issued:
    """A self-signed CA that signs device, server and verification certificates and CRLs."""
    _check_common_name("CA name", common_name)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_start(now))
        .not_valid_after(_start(now) + _lifetime(days))
        # path length 0: this CA signs end entities only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return Issued(builder.sign(key, _hash_for(key)), key)


def issue_device(ca: Issued, thing_name: str, *, now: datetime, days: int = DEVICE_DAYS) -> Issued:
    """A device's client certificate; its common name is the thing name."""
    check_thing_name(thing_name)
    return _issue_leaf(
        ca,
        thing_name,
        now=now,
        days=days,
        extensions=[x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])],
    )


def issue_server(
    ca: Issued,
    hostnames: Iterable[str] = SERVER_HOSTNAMES,
    ips: Iterable[str] = SERVER_IPS,
    *,
    now: datetime,
    days: int = SERVER_DAYS,
) -> Issued:
    """The TLS server certificate for the local broker and gateway, valid for these names."""
    names = list(hostnames)
    addresses = [_ip_address(ip) for ip in ips]
    for hostname in names:
        _check_hostname(hostname)
    if not names and not addresses:
        raise CertificateRequestError("server names", (), "give at least one hostname or IP")
    alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternative_names += [x509.IPAddress(address) for address in addresses]
    return _issue_leaf(
        ca,
        names[0] if names else str(addresses[0]),
        now=now,
        days=days,
        extensions=[
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.SubjectAlternativeName(alternative_names),
        ],
    )


def issue_verification(
    ca: Issued, registration_code: str, *, now: datetime, days: int = VERIFICATION_DAYS
) -> Issued:
    """The certificate that proves to AWS IoT that we hold the CA's key.

    Its common name is the account's registration code (`aws iot get-registration-code`);
    AWS asks for it once, when the CA is registered (`register-ca-certificate`).
    """
    _check_common_name("registration code", registration_code)
    return _issue_leaf(ca, registration_code, now=now, days=days, extensions=[])


def build_crl(
    ca: Issued,
    revoked: Mapping[int, datetime],
    *,
    now: datetime,
    next_update_days: int = CRL_DAYS,
) -> x509.CertificateRevocationList:
    """The CA's certificate revocation list: each revoked serial number with its date."""
    _check_aware("now", now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + _lifetime(next_update_days))
        # The CRL number must grow with every new CRL; the issue time does, without a counter.
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(_authority_key_identifier(ca.certificate), critical=False)
    )
    for serial, revoked_at in sorted(revoked.items()):
        _check_aware("revocation date", revoked_at)
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca.private_key, _hash_for(ca.private_key))


def certificate_id(certificate: x509.Certificate) -> str:
    """The AWS IoT certificate id: SHA-256 of the DER encoding, lowercase hex."""
    return der_certificate_id(certificate.public_bytes(serialization.Encoding.DER))


def der_certificate_id(der: bytes) -> str:
    """The AWS IoT certificate id of a certificate's DER bytes (as a TLS peer sends them)."""
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------- PEM


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: SigningKey) -> bytes:
    """PKCS#8, unencrypted: the file's permissions protect it, as mosquitto and the SDKs expect."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def load_certificate_pem(data: bytes, source: str = "data") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise InvalidPemError(source, "certificate", str(error)) from None


def load_private_key_pem(data: bytes, source: str = "data") -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:  # TypeError: the key is encrypted
        raise InvalidPemError(source, "private key", str(error)) from None
    if not isinstance(key, SigningKey):
        raise InvalidPemError(source, "private key", f"{type(key).__name__} cannot sign")
    return key


def load_crl_pem(data: bytes, source: str = "data") -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(data)
    except ValueError as error:
        raise InvalidPemError(source, "CRL", str(error)) from None


def matches(issued: Issued) -> bool:
    """Whether the private key belongs to the certificate."""
    return issued.certificate.public_key() == issued.private_key.public_key()


# ---------------------------------------------------------------- helpers


def _issue_leaf(
    ca: Issued,
    common_name: str,
    *,
    now: datetime,
    days: int,
    extensions: list[x509.ExtensionType],
) -> Issued:
    start = _start(now)
    ca_expires = ca.certificate.not_valid_after_utc
    if not is_valid_at(ca.certificate, now):
        raise CertificateRequestError(
            "CA",
            ca.certificate.subject.rfc4514_string(),
            f"is not valid at {now.isoformat()} (valid until {ca_expires.isoformat()})",
        )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        # Never outlive the CA: past its end nothing it signed verifies anyway.
        .not_valid_after(min(start + _lifetime(days), ca_expires))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca.certificate), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return Issued(builder.sign(ca.private_key, _hash_for(ca.private_key)), key)


def _name(common_name: str) -> x509.Name:
    # Most significant first, as X.509 orders it; printed (RFC 4514) it reads CN=...,O=...
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    # Point at the CA's own key identifier, so chain building finds it by that id.
    try:
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:  # a CA made elsewhere, without one
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_certificate.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _hash_for(key: SigningKey) -> hashes.SHA256 | None:
    # Ed25519 and Ed448 sign the message itself; the others sign a SHA-256 digest.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _start(now: datetime) -> datetime:
    _check_aware("now", now)
    return now - CLOCK_SKEW


def _lifetime(days: int) -> timedelta:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise CertificateRequestError("lifetime in days", days, "must be a whole number, 1 or more")
    return timedelta(days=days)


def _check_aware(field: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CertificateRequestError(field, moment, "must be an aware datetime (with a timezone)")


def _check_common_name(field: str, value: str) -> None:
    if not value or len(value) > MAX_COMMON_NAME or not value.isprintable():
        raise CertificateRequestError(
            field, value, f"must be 1 to {MAX_COMMON_NAME} printable characters"
        )


def _check_hostname(hostname: str) -> None:
    labels = hostname.split(".")
    if len(hostname) > MAX_HOSTNAME or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise CertificateRequestError(
            "hostname", hostname, "use a DNS name: letters, digits and '-', labels split by '.'"
        )


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise CertificateRequestError("IP address", text, "use an IPv4 or IPv6 address") from None
