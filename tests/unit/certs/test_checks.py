"""AWS IoT's certificate rules (swan.certs.checks): what it takes and what it refuses, by fault."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from swan.certs import checks
from swan.certs.authority import create_ca, issue_device, issue_server, issue_verification
from swan.certs.errors import CertificateRequestError, UnfitCertificateError
from swan.core.errors import SwanError

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SHA256 = hashes.SHA256()
SIGNATURES = "unsupported_signature_algorithm"
CODE = "c0de" * 16


@pytest.fixture(scope="module")
def ca():
    return create_ca("Checks CA", now=NOW)


@pytest.fixture(scope="module")
def device(ca):
    return issue_device(ca, "pi-checks", now=NOW)


def made(key, *, signer=None, name="thing", ca=False, hash_=SHA256, days=30, **signing):
    """A certificate with any key and signature, self-signed unless `signer` (a key) signs."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)] if name else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    return builder.sign(signer or key, hash_, **signing)


def fault_of(check, *args, **kwargs):
    with pytest.raises(UnfitCertificateError) as raised:
        check(*args, **kwargs)
    return raised.value.fault


def test_what_the_local_ca_issues_is_fit(ca, device):
    checks.check_ca_certificate(ca.certificate, now=NOW)
    checks.check_client_certificate(device.certificate, ca.certificate, now=NOW)
    verification = issue_verification(ca, CODE, now=NOW).certificate
    checks.check_verification_certificate(verification, ca.certificate, CODE, now=NOW)
    server = issue_server(ca, now=NOW).certificate
    assert checks.verify_issued_by(server, ca.certificate, now=NOW)


@pytest.mark.parametrize(
    ("key", "hash_", "signing"),
    [
        (rsa.generate_private_key(65537, 2048), hashes.SHA256(), {}),
        (rsa.generate_private_key(65537, 2048), hashes.SHA512(), {}),
        (
            rsa.generate_private_key(65537, 2048),
            hashes.SHA256(),
            {"rsa_padding": padding.PSS(padding.MGF1(hashes.SHA256()), 32)},
        ),
        (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384(), {}),
        (ec.generate_private_key(ec.SECP521R1()), hashes.SHA512(), {}),
        (dsa.generate_private_key(2048), hashes.SHA256(), {}),
    ],
    ids=["rsa-sha256", "rsa-sha512", "rsassa-pss", "p384", "p521", "dsa-sha256"],
)
def test_every_key_and_signature_aws_lists_is_taken(key, hash_, signing):
    checks.check_algorithms(made(key, hash_=hash_, **signing))


@pytest.mark.parametrize(
    ("key", "hash_", "fault"),
    [
        (rsa.generate_private_key(65537, 2048), hashes.SHA224(), SIGNATURES),
        (ec.generate_private_key(ec.SECP256R1()), hashes.SHA3_256(), SIGNATURES),
        (ed25519.Ed25519PrivateKey.generate(), None, SIGNATURES),
        (rsa.generate_private_key(65537, 1024), SHA256, "unsupported_key"),  # noqa: S505
        (ec.generate_private_key(ec.SECP256K1()), SHA256, "unsupported_key"),
    ],
    ids=["rsa-sha224", "ecdsa-sha3", "ed25519", "rsa-1024", "secp256k1"],
)
def test_a_key_or_signature_aws_does_not_list_is_refused(key, hash_, fault):
    certificate = made(key, hash_=hash_)
    assert fault_of(checks.check_algorithms, certificate) == fault
    assert fault_of(checks.check_client_certificate, certificate, None, now=NOW) == fault


def test_an_rsa_signed_certificate_with_an_ed25519_key_is_refused_for_its_key():
    signer = rsa.generate_private_key(65537, 2048)
    certificate = made(ed25519.Ed25519PrivateKey.generate(), signer=signer, hash_=hashes.SHA256())
    assert fault_of(checks.check_algorithms, certificate) == "unsupported_key"


def test_validity_is_checked_at_both_ends(device):
    checks.check_valid_at(device.certificate, NOW)
    assert fault_of(checks.check_valid_at, device.certificate, NOW - timedelta(days=1)) == (
        "not_yet_valid"
    )
    assert fault_of(checks.check_valid_at, device.certificate, NOW + timedelta(days=4000)) == (
        "expired"
    )
    assert checks.is_valid_at(device.certificate, NOW)
    assert not checks.is_valid_at(device.certificate, NOW + timedelta(days=4000))


def test_now_must_carry_a_timezone(device):
    with pytest.raises(CertificateRequestError, match="aware"):
        checks.check_valid_at(device.certificate, datetime(2026, 1, 1))  # noqa: DTZ001


def test_a_ca_must_say_it_is_one_and_be_valid(ca, device):
    assert not checks.is_ca(device.certificate)
    assert not checks.is_ca(made(ec.generate_private_key(ec.SECP256R1())))  # no basicConstraints
    assert fault_of(checks.check_ca_certificate, device.certificate, now=NOW) == "not_a_ca"
    late = NOW + timedelta(days=40000)
    assert fault_of(checks.check_ca_certificate, ca.certificate, now=late) == "expired"
    weak = made(rsa.generate_private_key(65537, 1024), ca=True)  # noqa: S505
    assert fault_of(checks.check_ca_certificate, weak, now=NOW) == "unsupported_key"


def test_a_client_certificate_must_be_signed_by_its_ca_and_both_valid(device):
    other = create_ca("Checks CA", now=NOW)  # the same name, another key
    assert not checks.signed_by(device.certificate, other.certificate)
    fault = fault_of(
        checks.check_client_certificate, device.certificate, other.certificate, now=NOW
    )
    assert fault == "not_signed_by_ca"
    short = create_ca("Short CA", now=NOW, days=2)
    lasting = issue_device(short, "pi-short", now=NOW)
    with pytest.raises(UnfitCertificateError) as raised:
        checks.check_client_certificate(
            lasting.certificate, short.certificate, now=NOW + timedelta(days=3)
        )
    assert (raised.value.what, raised.value.fault) == (checks.CA, "expired")
    # Registered without a CA: only the certificate itself is judged.
    checks.check_client_certificate(device.certificate, None, now=NOW)


def test_the_verification_certificate_carries_the_code_and_the_cas_signature(ca):
    other = create_ca("Elsewhere", now=NOW)
    wrong_code = issue_verification(ca, "0" * 64, now=NOW).certificate
    foreign = issue_verification(other, CODE, now=NOW).certificate
    check = checks.check_verification_certificate
    assert fault_of(check, wrong_code, ca.certificate, CODE, now=NOW) == "wrong_registration_code"
    assert fault_of(check, foreign, ca.certificate, CODE, now=NOW) == "not_signed_by_ca"
    late = NOW + timedelta(days=4000)
    right = issue_verification(ca, CODE, now=NOW).certificate
    assert fault_of(check, right, ca.certificate, CODE, now=late) == "expired"


def test_issued_by_needs_a_ca_its_signature_and_both_valid(ca, device):
    assert checks.verify_issued_by(device.certificate, ca.certificate, now=NOW)
    assert not checks.verify_issued_by(device.certificate, device.certificate, now=NOW)
    assert not checks.verify_issued_by(ca.certificate, device.certificate, now=NOW)
    later = NOW + timedelta(days=4000)
    assert not checks.verify_issued_by(device.certificate, ca.certificate, now=later)


def test_the_common_name_is_read_if_there_is_one(device):
    assert checks.common_name(device.certificate) == "pi-checks"
    assert checks.common_name(made(ec.generate_private_key(ec.SECP256R1()), name="")) is None


def test_an_unfit_certificate_says_what_and_why_and_is_a_value_error(device):
    with pytest.raises(UnfitCertificateError) as raised:
        checks.check_is_ca(device.certificate)
    error = raised.value
    assert isinstance(error, SwanError)
    assert isinstance(error, ValueError)
    assert (error.what, error.fault) == ("CA certificate", "not_a_ca")
    assert str(error) == f"the CA certificate {error.problem}"
