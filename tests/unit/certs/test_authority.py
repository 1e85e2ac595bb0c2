"""The local CA: what it issues, how certificates chain, and what it refuses."""

import base64
import hashlib
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from swan.certs import authority, checks
from swan.certs.authority import (
    Issued,
    build_crl,
    certificate_id,
    create_ca,
    issue_device,
    issue_server,
    issue_verification,
)
from swan.certs.checks import verify_issued_by
from swan.certs.defaults import CA_DAYS, DEVICE_DAYS
from swan.certs.errors import CertificateRequestError, InvalidPemError, InvalidThingNameError
from swan.core.errors import SwanError
from swan.core.names import CERTIFICATE_ID

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REGISTRATION_CODE = "4f5e3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"


@pytest.fixture(scope="module")
def ca():
    return create_ca("Test CA", now=NOW)


@pytest.fixture(scope="module")
def other_ca():
    return create_ca("Test CA", now=NOW)  # the same name, another key


@pytest.fixture(scope="module")
def device(ca):
    return issue_device(ca, "pi-kitchen", now=NOW)


def common_name(certificate):
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def extension(certificate, kind):
    return certificate.extensions.get_extension_for_class(kind)


# ---------------------------------------------------------------- the CA


def test_the_ca_is_self_signed_and_may_only_sign_end_entities(ca):
    certificate = ca.certificate
    assert certificate.subject == certificate.issuer
    assert common_name(certificate) == "Test CA"
    certificate.verify_directly_issued_by(certificate)
    constraints = extension(certificate, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0


def test_the_ca_signs_certificates_and_crls_only(ca):
    usage = extension(ca.certificate, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature


def test_the_ca_has_a_subject_key_identifier_and_an_ec_p256_key(ca):
    ski = extension(ca.certificate, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.private_key.public_key())
    assert isinstance(ca.private_key, ec.EllipticCurvePrivateKey)
    assert ca.private_key.curve.name == "secp256r1"


def test_the_ca_lives_for_the_days_asked_starting_a_little_before_now():
    ca = create_ca(now=NOW, days=10)
    assert ca.certificate.not_valid_before_utc == NOW - authority.CLOCK_SKEW
    assert ca.certificate.not_valid_after_utc == NOW - authority.CLOCK_SKEW + timedelta(days=10)
    assert common_name(ca.certificate) == "The Swan local CA"


def test_issued_is_a_frozen_pair(ca):
    with pytest.raises(AttributeError):
        ca.certificate = None
    assert authority.matches(ca)


# ---------------------------------------------------------------- devices


def test_a_device_certificate_chains_to_the_ca(ca, device):
    assert verify_issued_by(device.certificate, ca.certificate, now=NOW)
    assert verify_issued_by(device.certificate, ca.certificate, now=NOW + timedelta(days=365))
    assert device.certificate.issuer == ca.certificate.subject


def test_a_device_certificate_names_the_thing_and_is_for_client_auth(device):
    assert common_name(device.certificate) == "pi-kitchen"
    eku = extension(device.certificate, x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    constraints = extension(device.certificate, x509.BasicConstraints)
    assert constraints.critical
    assert not constraints.value.ca


def test_a_device_certificate_points_at_the_ca_key(ca, device):
    aki = extension(device.certificate, x509.AuthorityKeyIdentifier).value
    ski = extension(ca.certificate, x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_each_certificate_has_its_own_key_and_serial(ca):
    first = issue_device(ca, "pi-1", now=NOW)
    second = issue_device(ca, "pi-1", now=NOW)
    assert first.certificate.serial_number != second.certificate.serial_number
    assert first.certificate.public_key() != second.certificate.public_key()
    assert authority.matches(first)
    assert not authority.matches(Issued(first.certificate, second.private_key))


@pytest.mark.parametrize("thing_name", ["pi-kitchen", "button_01", "arn:like:name", "A" * 64, "0"])
def test_thing_names_aws_allows_are_accepted(ca, thing_name):
    assert common_name(issue_device(ca, thing_name, now=NOW).certificate) == thing_name


@pytest.mark.parametrize(
    ("thing_name", "problem"),
    [
        ("", "letters, digits"),
        ("pi kitchen", "letters, digits"),
        ("../ca", "letters, digits"),
        ("pi/kitchen", "letters, digits"),
        ("pïe", "letters, digits"),
        ("A" * 129, "letters, digits"),
        ("A" * 65, "at most 64 characters"),
    ],
)
def test_bad_thing_names_are_refused_with_a_clear_error(ca, thing_name, problem):
    with pytest.raises(InvalidThingNameError) as refused:
        issue_device(ca, thing_name, now=NOW)
    assert isinstance(refused.value, SwanError)
    assert isinstance(refused.value, ValueError)
    assert refused.value.thing_name == thing_name
    assert problem in str(refused.value)
    assert repr(thing_name) in str(refused.value)


def test_a_leaf_never_outlives_its_ca():
    short_ca = create_ca(now=NOW, days=30)
    device = issue_device(short_ca, "pi-1", now=NOW, days=DEVICE_DAYS)
    assert device.certificate.not_valid_after_utc == short_ca.certificate.not_valid_after_utc


def test_an_expired_ca_issues_nothing(ca):
    later = NOW + timedelta(days=CA_DAYS + 1)
    with pytest.raises(CertificateRequestError, match="is not valid at"):
        issue_device(ca, "pi-1", now=later)


# ---------------------------------------------------------------- the server


def test_the_server_certificate_names_localhost_and_127_0_0_1_by_default(ca):
    server = issue_server(ca, now=NOW)
    names = extension(server.certificate, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert list(extension(server.certificate, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    assert common_name(server.certificate) == "localhost"
    assert verify_issued_by(server.certificate, ca.certificate, now=NOW)


def test_the_server_certificate_takes_other_names_and_ipv6(ca):
    server = issue_server(ca, ["swan.lan", "localhost"], ["192.168.1.5", "::1"], now=NOW)
    names = extension(server.certificate, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["swan.lan", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.168.1.5"),
        ipaddress.ip_address("::1"),
    ]


def test_a_server_certificate_for_an_ip_only_is_named_after_it(ca):
    server = issue_server(ca, [], ["10.0.0.1"], now=NOW)
    assert common_name(server.certificate) == "10.0.0.1"


@pytest.mark.parametrize(
    ("hostnames", "ips", "problem"),
    [
        (["bad host"], [], "hostname"),
        (["-leading.dash"], [], "hostname"),
        (["a" * 64 + ".lan"], [], "hostname"),
        ([], ["300.1.1.1"], "IP address"),
        ([], ["localhost"], "IP address"),
        ([], [], "at least one"),
    ],
)
def test_bad_server_names_are_refused(ca, hostnames, ips, problem):
    with pytest.raises(CertificateRequestError, match=problem):
        issue_server(ca, hostnames, ips, now=NOW)


# ---------------------------------------------------------------- the verification certificate


def test_the_verification_certificate_carries_the_registration_code(ca):
    verification = issue_verification(ca, REGISTRATION_CODE, now=NOW)
    assert common_name(verification.certificate) == REGISTRATION_CODE
    assert verify_issued_by(verification.certificate, ca.certificate, now=NOW)


@pytest.mark.parametrize("code", ["", "x" * 65, "line\nbreak"])
def test_a_bad_registration_code_is_refused(ca, code):
    with pytest.raises(CertificateRequestError, match="registration code"):
        issue_verification(ca, code, now=NOW)


# ---------------------------------------------------------------- verification negatives


def test_an_expired_certificate_does_not_verify(ca):
    device = issue_device(ca, "pi-1", now=NOW, days=1)
    assert verify_issued_by(device.certificate, ca.certificate, now=NOW + timedelta(hours=23))
    assert not verify_issued_by(device.certificate, ca.certificate, now=NOW + timedelta(days=2))


def test_a_certificate_does_not_verify_before_it_starts(ca, device):
    assert not verify_issued_by(device.certificate, ca.certificate, now=NOW - timedelta(days=1))


def test_a_certificate_from_another_ca_with_the_same_name_does_not_verify(other_ca, device):
    assert other_ca.certificate.subject == device.certificate.issuer
    assert not verify_issued_by(device.certificate, other_ca.certificate, now=NOW)


def test_an_expired_ca_verifies_nothing():
    short_ca = create_ca(now=NOW, days=2)
    device = issue_device(short_ca, "pi-1", now=NOW, days=1)
    assert not verify_issued_by(device.certificate, short_ca.certificate, now=NOW + timedelta(3))


def test_validity_is_checked_against_now(device):
    assert checks.is_valid_at(device.certificate, NOW)
    assert not checks.is_valid_at(device.certificate, NOW + timedelta(days=DEVICE_DAYS + 1))


# ---------------------------------------------------------------- the certificate id


def test_the_certificate_id_is_the_sha256_of_the_der_bytes(device):
    der = device.certificate.public_bytes(serialization.Encoding.DER)
    assert certificate_id(device.certificate) == hashlib.sha256(der).hexdigest()
    assert CERTIFICATE_ID.fullmatch(certificate_id(device.certificate))


def test_the_certificate_id_matches_the_openssl_der_pipeline(device):
    # `openssl x509 -outform DER | sha256sum` hashes the base64 body of the PEM, decoded.
    pem = authority.certificate_pem(device.certificate).decode()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert certificate_id(device.certificate) == hashlib.sha256(base64.b64decode(body)).hexdigest()


def test_the_certificate_id_is_not_the_hash_of_the_pem_text(device):
    # moto hashes the PEM text; AWS hashes the DER bytes.
    pem = authority.certificate_pem(device.certificate)
    assert certificate_id(device.certificate) != hashlib.sha256(pem).hexdigest()


# ---------------------------------------------------------------- the CRL


def test_the_crl_lists_the_revoked_serials_with_their_dates(ca):
    first, second = (issue_device(ca, name, now=NOW) for name in ("pi-1", "pi-2"))
    revoked_at = NOW + timedelta(hours=1)
    revoked = {
        first.certificate.serial_number: revoked_at,
        second.certificate.serial_number: revoked_at + timedelta(minutes=5),
    }
    crl = build_crl(ca, revoked, now=NOW + timedelta(hours=2))
    listed = {entry.serial_number: entry.revocation_date_utc for entry in crl}
    assert listed == revoked
    assert crl.issuer == ca.certificate.subject


def test_the_crl_is_signed_by_the_ca_and_no_other(ca, other_ca):
    crl = build_crl(ca, {}, now=NOW)
    assert crl.is_signature_valid(ca.certificate.public_key())
    assert not crl.is_signature_valid(other_ca.certificate.public_key())
    assert len(crl) == 0


def test_the_crl_has_a_growing_number_and_its_next_update(ca):
    first = build_crl(ca, {}, now=NOW)
    second = build_crl(ca, {}, now=NOW + timedelta(seconds=1), next_update_days=7)
    number = extension(first, x509.CRLNumber).value.crl_number
    assert extension(second, x509.CRLNumber).value.crl_number > number
    assert second.last_update_utc == NOW + timedelta(seconds=1)
    assert second.next_update_utc == NOW + timedelta(days=7, seconds=1)
    aki = extension(first, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == extension(ca.certificate, x509.SubjectKeyIdentifier).value.digest


def test_a_naive_revocation_date_is_refused(ca):
    with pytest.raises(CertificateRequestError, match="aware"):
        build_crl(ca, {1: datetime(2026, 1, 1)}, now=NOW)  # noqa: DTZ001


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_a_lifetime_must_be_a_positive_whole_number_of_days(days):
    with pytest.raises(CertificateRequestError, match="lifetime"):
        create_ca(now=NOW, days=days)


def test_now_must_carry_a_timezone(ca):
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(CertificateRequestError, match="aware"):
        create_ca(now=naive)
    with pytest.raises(CertificateRequestError, match="aware"):
        verify_issued_by(ca.certificate, ca.certificate, now=naive)


# ---------------------------------------------------------------- PEM


def test_certificates_keys_and_crls_round_trip_through_pem(ca, device):
    certificate = authority.load_certificate_pem(authority.certificate_pem(device.certificate))
    assert certificate == device.certificate
    key = authority.load_private_key_pem(authority.private_key_pem(device.private_key))
    assert key.public_key() == device.private_key.public_key()
    crl = build_crl(ca, {7: NOW}, now=NOW)
    assert authority.load_crl_pem(authority.crl_pem(crl)) == crl


def test_private_keys_are_unencrypted_pkcs8(device):
    assert authority.private_key_pem(device.private_key).startswith(b"-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    "load", [authority.load_certificate_pem, authority.load_private_key_pem, authority.load_crl_pem]
)
def test_bad_pem_names_its_source(load):
    with pytest.raises(InvalidPemError, match=r"^ca\.pem: not a usable PEM"):
        load(b"not pem at all", "ca.pem")


def test_an_encrypted_key_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(InvalidPemError, match="private key"):
        authority.load_private_key_pem(pem)


def test_a_key_that_cannot_sign_is_refused():
    pem = x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidPemError, match="cannot sign"):
        authority.load_private_key_pem(pem)


def test_a_ca_made_elsewhere_with_an_ed25519_key_and_no_key_identifier_still_signs():
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "elsewhere")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    foreign = Issued(certificate, key)
    device = issue_device(foreign, "pi-1", now=NOW)
    device.certificate.verify_directly_issued_by(certificate)
    aki = extension(device.certificate, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    assert build_crl(foreign, {}, now=NOW).is_signature_valid(key.public_key())
    assert device.certificate.signature_hash_algorithm is None


def test_an_ec_ca_signs_sha256(device):
    assert isinstance(device.certificate.signature_hash_algorithm, hashes.SHA256)
