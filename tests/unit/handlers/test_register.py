"""The register handler (JITR) against the in-memory registry: every refusal by name."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from support import load_event

from swan.adapters.clock import FakeClock
from swan.adapters.iot import MemoryDeviceRegistry, MissingResourceError
from swan.certs.authority import (
    Issued,
    certificate_id,
    certificate_pem,
    create_ca,
    issue_device,
)
from swan.handlers.register import RegistrationPorts, handle_registration

POLICY = "swan-device"
START = FakeClock().current
NOW = datetime.fromtimestamp(START, UTC)


@pytest.fixture(scope="module")
def ca():
    return create_ca("Swan Devices CA", now=NOW - timedelta(days=1))


@pytest.fixture
def registry():
    memory = MemoryDeviceRegistry()
    memory.policies.add(POLICY)
    return memory


@pytest.fixture
def ports(registry, clock):
    return RegistrationPorts(registry=registry, clock=clock, policy_name=POLICY)


def pem(issued):
    return certificate_pem(issued.certificate).decode()


def enroll(registry, ca, device, *, status="PENDING_ACTIVATION", **ca_settings):
    """The registry as the gateway leaves it: the CA registered, the certificate pending."""
    ca_id = certificate_id(ca.certificate)
    if ca_id not in registry.cas:
        registry.add_ca(ca_id, pem(ca), **ca_settings)
    cert_id = certificate_id(device.certificate)
    registry.add_certificate(cert_id, pem(device), ca_certificate_id=ca_id, status=status)
    return event(cert_id, ca_id)


def event(cert_id, ca_id):
    return {**load_event("jitr_registered"), "certificateId": cert_id, "caCertificateId": ca_id}


def device_named(ca, common_name, key=None):
    """A device certificate with any subject (and key), even one `issue_device` would refuse."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(hours=1))
        .not_valid_after(NOW + timedelta(days=30))
        .sign(ca.private_key, hashes.SHA256())
    )
    return Issued(certificate, key)


def assert_refused(outcome, reason):
    assert outcome["outcome"] == "refused"
    assert outcome["reason"] == reason, outcome["message"]


# ---------------------------------------------------------------- activation


def test_a_fit_certificate_gets_its_thing_policy_and_then_activation(registry, ports, ca):
    device = issue_device(ca, "pi-kitchen", now=NOW)
    outcome = handle_registration(enroll(registry, ca, device), ports)
    cert = registry.certificates[certificate_id(device.certificate)]
    assert outcome == {
        "outcome": "activated",
        "certificateId": cert.certificate_id,
        "thingName": "pi-kitchen",
    }
    assert cert.status == "ACTIVE"
    assert registry.things == {"pi-kitchen"}
    assert registry.policy_targets == {cert.arn: {POLICY}}
    assert registry.thing_principals == {"pi-kitchen": {cert.arn}}
    assert registry.calls == [
        ("create_thing", "pi-kitchen"),
        ("attach_policy", POLICY, cert.arn),
        ("attach_thing_principal", "pi-kitchen", cert.arn),
        ("activate_certificate", cert.certificate_id),
    ]


def test_running_twice_ends_in_the_same_state(registry, ports, ca):
    device = issue_device(ca, "pi-hall", now=NOW)
    jitr = enroll(registry, ca, device)
    assert handle_registration(jitr, ports)["outcome"] == "activated"
    state = (dict(registry.certificates), set(registry.things), dict(registry.policy_targets))
    again = handle_registration(jitr, ports)
    assert again["outcome"] == "already_active"
    assert (dict(registry.certificates), set(registry.things), dict(registry.policy_targets)) == (
        state
    )


def test_an_already_active_certificate_gets_whatever_it_lacks(registry, ports, ca):
    device = issue_device(ca, "pi-attic", now=NOW)
    jitr = enroll(registry, ca, device, status="ACTIVE")
    outcome = handle_registration(jitr, ports)
    assert outcome["outcome"] == "already_active"
    assert registry.things == {"pi-attic"}
    assert ("activate_certificate", jitr["certificateId"]) not in registry.calls


def test_the_event_may_carry_more_than_the_codec_reads(registry, ports, ca):
    jitr = enroll(registry, ca, issue_device(ca, "pi-extra", now=NOW))
    assert handle_registration({**jitr, "extra": 1}, ports)["outcome"] == "activated"


# ---------------------------------------------------------------- revoked stays revoked


def test_a_revoked_certificate_is_never_reactivated(registry, ports, ca):
    device = issue_device(ca, "pi-stolen", now=NOW)
    jitr = enroll(registry, ca, device, status="REVOKED")
    assert_refused(handle_registration(jitr, ports), "revoked")
    assert registry.certificates[jitr["certificateId"]].status == "REVOKED"
    assert registry.calls == []


def test_a_certificate_revoked_while_registering_stays_revoked(clock, ca):
    class RevokedMidway(MemoryDeviceRegistry):
        def create_thing(self, thing_name):
            super().create_thing(thing_name)
            self.set_status(jitr["certificateId"], "REVOKED")

    racing = RevokedMidway()
    racing.policies.add(POLICY)
    jitr = enroll(racing, ca, issue_device(ca, "pi-race", now=NOW))
    ports = RegistrationPorts(registry=racing, clock=clock, policy_name=POLICY)
    assert_refused(handle_registration(jitr, ports), "certificate_state")
    assert racing.certificates[jitr["certificateId"]].status == "REVOKED"


# ---------------------------------------------------------------- refusals, by name


def test_unknown_certificate(ports, ca):
    jitr = event(certificate_id(issue_device(ca, "pi-x", now=NOW).certificate), "a" * 64)
    assert_refused(handle_registration(jitr, ports), "unknown_certificate")


@pytest.mark.parametrize("status", ["INACTIVE", "PENDING_TRANSFER", "REGISTER_INACTIVE"])
def test_not_pending(registry, ports, ca, status):
    jitr = enroll(registry, ca, issue_device(ca, "pi-off", now=NOW), status=status)
    assert_refused(handle_registration(jitr, ports), "not_pending")
    assert registry.certificates[jitr["certificateId"]].status == status


def test_ca_mismatch(registry, ports, ca):
    jitr = enroll(registry, ca, issue_device(ca, "pi-odd", now=NOW))
    assert_refused(handle_registration({**jitr, "caCertificateId": "b" * 64}, ports), "ca_mismatch")


def test_unknown_ca(registry, ports, ca):
    device = issue_device(ca, "pi-lost", now=NOW)
    cert_id = certificate_id(device.certificate)
    registry.add_certificate(cert_id, pem(device), ca_certificate_id=None)
    assert_refused(handle_registration(event(cert_id, "c" * 64), ports), "unknown_ca")


def test_ca_inactive(registry, ports, ca):
    jitr = enroll(registry, ca, issue_device(ca, "pi-1", now=NOW), status="PENDING_ACTIVATION")
    registry.add_ca(jitr["caCertificateId"], pem(ca), status="INACTIVE")
    assert_refused(handle_registration(jitr, ports), "ca_inactive")
    assert registry.certificates[jitr["certificateId"]].status == "PENDING_ACTIVATION"


def test_auto_registration_disabled(registry, ports, ca):
    jitr = enroll(registry, ca, issue_device(ca, "pi-2", now=NOW), auto_registration=False)
    assert_refused(handle_registration(jitr, ports), "auto_registration_disabled")
    assert registry.calls == []


def test_unreadable_certificate(registry, ports, ca):
    ca_id = certificate_id(ca.certificate)
    registry.add_ca(ca_id, pem(ca))
    registry.add_certificate("d" * 64, "not a PEM", ca_certificate_id=ca_id)
    assert_refused(handle_registration(event("d" * 64, ca_id), ports), "unreadable_certificate")


def test_not_signed_by_ca(registry, ports, ca):
    """Another CA of the very same name signed it: the signature tells them apart."""
    impostor = create_ca("Swan Devices CA", now=NOW - timedelta(days=1))
    device = issue_device(impostor, "pi-fake", now=NOW)
    ca_id = certificate_id(ca.certificate)
    registry.add_ca(ca_id, pem(ca))
    cert_id = certificate_id(device.certificate)
    registry.add_certificate(cert_id, pem(device), ca_certificate_id=ca_id)
    assert_refused(handle_registration(event(cert_id, ca_id), ports), "not_signed_by_ca")


def test_ca_not_valid(registry, ports, clock):
    short_lived = create_ca("Short CA", now=NOW, days=1)
    jitr = enroll(registry, short_lived, issue_device(short_lived, "pi-3", now=NOW))
    clock.advance(2 * 86400)
    assert_refused(handle_registration(jitr, ports), "ca_not_valid")


def test_expired(registry, ports, ca, clock):
    jitr = enroll(registry, ca, issue_device(ca, "pi-4", now=NOW, days=1))
    clock.advance(2 * 86400)
    assert_refused(handle_registration(jitr, ports), "expired")


def test_not_yet_valid(registry, ports, ca):
    jitr = enroll(registry, ca, issue_device(ca, "pi-5", now=NOW + timedelta(hours=2)))
    assert_refused(handle_registration(jitr, ports), "not_yet_valid")


def test_a_key_aws_iot_does_not_take_is_refused(registry, ports, ca):
    """AWS IoT takes RSA keys of 2048 bits or more (swan.certs.checks): 1024 is refused."""
    device = device_named(ca, "pi-weak", key=rsa.generate_private_key(65537, 1024))  # noqa: S505
    assert_refused(handle_registration(enroll(registry, ca, device), ports), "unsupported_key")


@pytest.mark.parametrize("common_name", ["has space", "a/b", "pi+1", "é", ""])
def test_invalid_thing_name(registry, ports, ca, common_name):
    jitr = enroll(registry, ca, device_named(ca, common_name))
    assert_refused(handle_registration(jitr, ports), "invalid_thing_name")
    assert registry.things == set()


@pytest.mark.parametrize("common_name", ["button", "web"])
def test_reserved_thing_name(registry, ports, ca, common_name):
    jitr = enroll(registry, ca, issue_device(ca, common_name, now=NOW))
    assert_refused(handle_registration(jitr, ports), "reserved_thing_name")
    assert registry.things == set()
    assert registry.certificates[jitr["certificateId"]].status == "PENDING_ACTIVATION"


def test_a_malformed_event_is_reported_not_raised(ports):
    outcome = handle_registration({**load_event("jitr_registered"), "certificateId": "no"}, ports)
    assert outcome["outcome"] == "malformed"
    assert "certificateId" in outcome["reason"]


# ---------------------------------------------------------------- unexpected errors


def test_unexpected_errors_propagate_and_nothing_is_activated(registry, ports, ca):
    registry.policies.clear()  # the device policy was never created
    jitr = enroll(registry, ca, issue_device(ca, "pi-6", now=NOW))
    with pytest.raises(MissingResourceError, match="policy"):
        handle_registration(jitr, ports)
    assert registry.certificates[jitr["certificateId"]].status == "PENDING_ACTIVATION"
