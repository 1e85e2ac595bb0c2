"""The device registry: CAs, certificates, things, policies and attachments, in SQLite."""

import json
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlite_support import plans, traced

from swan.adapters.clock import FakeClock
from swan.certs.authority import certificate_id, certificate_pem, create_ca, issue_device
from swan.local.registry import Registry
from swan.local.registry_errors import (
    CertificateStateError,
    InvalidCertificateError,
    InvalidPolicyError,
    InvalidValueError,
    PolicyConflictError,
    PolicyDeploymentError,
    RegistryDatabaseError,
    ResourceConflictError,
    ThingInUseError,
    TooManyPoliciesError,
    TooManyVersionsError,
    UnknownResourceError,
    UnsupportedPolicyDocumentError,
    VersionMismatchError,
)

NOW = datetime(2025, 11, 25, 18, 0, tzinfo=UTC)
DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
    }
)


def document(action, *, padding=0):
    """A valid policy allowing `action`, `padding` characters longer than it needs to be."""
    resource = "arn:aws:iot:us-east-1:000000000000:client/" + "x" * padding
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


@pytest.fixture(scope="module")
def ca():
    return create_ca("Swan Devices CA", now=NOW)


@pytest.fixture(scope="module")
def impostor():
    """Another CA with the very same name, and so the same issuer on what it signs."""
    return create_ca("Swan Devices CA", now=NOW)


@pytest.fixture(scope="module")
def device(ca):
    return issue_device(ca, "pi-kitchen", now=NOW)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def registry(tmp_path, clock):
    with Registry(tmp_path / "registry.db", clock) as opened:
        yield opened


def pem(issued):
    return certificate_pem(issued.certificate)


# ---------------------------------------------------------------- CAs


def test_a_ca_is_registered_under_its_aws_id_and_arn(registry, ca, clock):
    record = registry.register_ca(pem(ca), auto_registration=True)
    ca_id = certificate_id(ca.certificate)
    assert record.id == ca_id
    assert record.arn == f"arn:aws:iot:us-east-1:000000000000:cacert/{ca_id}"
    assert record.status == "ACTIVE"
    assert record.auto_registration is True
    assert record.created_at == clock.now()
    assert record.certificate == ca.certificate
    assert registry.ca(ca_id) == record
    assert registry.cas() == [record]


def test_registering_a_ca_again_is_idempotent_and_applies_the_settings(registry, ca, clock):
    first = registry.register_ca(pem(ca), auto_registration=True)
    assert registry.register_ca(pem(ca).decode(), auto_registration=True) == first
    clock.advance(5)
    again = registry.register_ca(pem(ca), auto_registration=False, status="INACTIVE")
    assert (again.status, again.auto_registration) == ("INACTIVE", False)
    assert again.created_at == first.created_at
    assert len(registry.cas()) == 1


def test_set_ca_changes_status_and_auto_registration(registry, ca):
    ca_id = registry.register_ca(pem(ca), auto_registration=True).id
    assert registry.set_ca(ca_id, status="INACTIVE").auto_registration is True
    changed = registry.set_ca(ca_id, auto_registration=False)
    assert (changed.status, changed.auto_registration) == ("INACTIVE", False)
    with pytest.raises(InvalidValueError, match="CA status"):
        registry.set_ca(ca_id, status="REVOKED")
    with pytest.raises(UnknownResourceError, match="CA certificate"):
        registry.set_ca("0" * 64, status="ACTIVE")


def test_a_leaf_certificate_is_not_a_ca(registry, device):
    with pytest.raises(InvalidCertificateError, match="not a CA"):
        registry.register_ca(pem(device), auto_registration=True)


def test_garbage_is_not_a_certificate(registry):
    with pytest.raises(InvalidCertificateError, match="not a PEM certificate"):
        registry.register_ca(b"-----BEGIN CERTIFICATE-----\nnope\n", auto_registration=True)


def test_ca_for_finds_the_ca_by_its_signature_not_its_name(registry, ca, impostor, device):
    assert registry.ca_for(device.certificate) is None
    registry.register_ca(pem(impostor), auto_registration=True)
    assert registry.ca_for(device.certificate) is None  # same issuer name, other key
    real = registry.register_ca(pem(ca), auto_registration=True)
    assert registry.ca_for(device.certificate) == real
    assert registry.ca_for(issue_device(impostor, "x", now=NOW).certificate).id != real.id


def test_ca_for_prefers_an_active_ca(registry, ca, device):
    """A CA certificate re-issued for the same key signs the same devices."""
    reissued = (
        x509.CertificateBuilder()
        .subject_name(ca.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(ca.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca.certificate.not_valid_before_utc)
        .not_valid_after(ca.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca.private_key, hashes.SHA256())
    )
    old = registry.register_ca(pem(ca), auto_registration=True, status="INACTIVE")
    assert registry.ca_for(device.certificate) == old  # found all the same; callers judge
    new = registry.register_ca(certificate_pem(reissued), auto_registration=True)
    assert registry.ca_for(device.certificate) == new


# ---------------------------------------------------------------- certificates


def test_a_device_certificate_is_registered_with_its_ca(registry, ca, device, clock):
    ca_id = registry.register_ca(pem(ca), auto_registration=True).id
    record = registry.register_certificate(pem(device), ca_id=ca_id, status="PENDING_ACTIVATION")
    cert_id = certificate_id(device.certificate)
    assert record.id == cert_id
    assert record.arn == f"arn:aws:iot:us-east-1:000000000000:cert/{cert_id}"
    assert record.status == "PENDING_ACTIVATION"
    assert record.ca_id == ca_id
    assert record.common_name == "pi-kitchen"
    assert record.created_at == clock.now()
    assert record.last_seen is None
    assert record.certificate == device.certificate
    assert registry.certificate(cert_id) == record
    assert registry.certificates() == [record]
    assert registry.certificates(ca_id=ca_id) == [record]
    assert registry.certificates(ca_id="f" * 64) == []
    assert registry.certificate("0" * 64) is None


def test_registering_a_known_certificate_returns_it_unchanged(registry, ca, device):
    ca_id = registry.register_ca(pem(ca), auto_registration=True).id
    first = registry.register_certificate(pem(device), ca_id=ca_id, status="PENDING_ACTIVATION")
    again = registry.register_certificate(pem(device), ca_id=ca_id, status="ACTIVE")
    assert again == first


def test_a_certificate_registers_only_with_the_ca_that_signed_it(registry, impostor, device):
    impostor_id = registry.register_ca(pem(impostor), auto_registration=True).id
    with pytest.raises(InvalidCertificateError, match="not signed by the CA"):
        registry.register_certificate(pem(device), ca_id=impostor_id, status="ACTIVE")
    with pytest.raises(UnknownResourceError):
        registry.register_certificate(pem(device), ca_id="a" * 64, status="ACTIVE")


def test_a_certificate_may_be_registered_without_a_ca(registry, device):
    record = registry.register_certificate(pem(device), ca_id=None, status="INACTIVE")
    assert record.ca_id is None


def test_unknown_statuses_are_refused(registry, device):
    with pytest.raises(InvalidValueError, match="certificate status"):
        registry.register_certificate(pem(device), ca_id=None, status="ENABLED")


def test_status_changes_are_told_to_listeners_after_the_change(registry, device):
    cert_id = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE").id
    seen = []
    registry.on_change(lambda record: seen.append((record.status, registry.certificate(cert_id))))
    registry.set_certificate_status(cert_id, "ACTIVE")  # no change, no call
    changed = registry.set_certificate_status(cert_id, "INACTIVE")
    assert changed.status == "INACTIVE"
    assert seen == [("INACTIVE", changed)]


def test_listeners_run_outside_the_lock(registry, device):
    """A listener may hand work to another thread that reads the registry, and wait for it."""
    cert_id = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE").id
    results = []

    def listener(record):
        reader = threading.Thread(target=lambda: results.append(registry.certificate(record.id)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive()

    registry.on_change(listener)
    registry.set_certificate_status(cert_id, "REVOKED")
    assert results[0].status == "REVOKED"


def test_a_failing_listener_does_not_undo_the_change(registry, device):
    cert_id = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE").id
    calls = []

    def broken(_record):
        raise RuntimeError("boom")

    registry.on_change(broken)
    registry.on_change(calls.append)
    registry.set_certificate_status(cert_id, "INACTIVE")
    assert registry.certificate(cert_id).status == "INACTIVE"
    assert len(calls) == 1


def test_ca_registrations_and_changes_are_told_to_ca_listeners(registry, ca):
    seen = []

    def broken(_record):
        raise RuntimeError("boom")

    registry.on_ca_change(broken)  # its failure neither undoes the change nor stops the next
    registry.on_ca_change(lambda record: seen.append(registry.ca(record.id)))
    registered = registry.register_ca(pem(ca), auto_registration=False)
    changed = registry.set_ca(registered.id, status="INACTIVE")
    again = registry.register_ca(pem(ca), auto_registration=True)
    assert seen == [registered, changed, again]  # each as committed, read back by the listener
    assert (changed.status, again.auto_registration) == ("INACTIVE", True)


def test_a_revoked_certificate_stays_revoked(registry, device):
    cert_id = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE").id
    registry.set_certificate_status(cert_id, "REVOKED")
    registry.set_certificate_status(cert_id, "REVOKED")
    with pytest.raises(CertificateStateError, match="REVOKED; it cannot become ACTIVE"):
        registry.set_certificate_status(cert_id, "ACTIVE")
    assert registry.certificate(cert_id).status == "REVOKED"


def test_status_of_an_unknown_certificate(registry):
    with pytest.raises(UnknownResourceError, match="certificate"):
        registry.set_certificate_status("0" * 64, "ACTIVE")


def test_touch_records_when_a_certificate_was_last_seen(registry, device):
    cert_id = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE").id
    registry.touch(cert_id, 1_764_000_123.5)
    assert registry.certificate(cert_id).last_seen == 1_764_000_123.5
    with pytest.raises(UnknownResourceError):
        registry.touch("0" * 64, 1.0)


# ---------------------------------------------------------------- things and principals


def test_create_thing_is_idempotent(registry):
    thing = registry.create_thing("pi-kitchen")
    assert thing.arn == "arn:aws:iot:us-east-1:000000000000:thing/pi-kitchen"
    assert thing.version == 1
    assert thing.attributes == {}
    assert registry.create_thing("pi-kitchen") == thing
    assert registry.thing("pi-kitchen") == thing
    assert registry.thing("nobody") is None
    assert registry.things() == [thing]


def test_a_thing_again_with_other_attributes_is_a_conflict(registry):
    registry.create_thing("pi-kitchen", {"room": "kitchen"})
    with pytest.raises(ResourceConflictError, match="different attributes") as raised:
        registry.create_thing("pi-kitchen", {"room": "hall"})
    assert raised.value.arn.endswith(":thing/pi-kitchen")


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 129, "é"])
def test_bad_thing_names_are_refused(registry, name):
    with pytest.raises(InvalidValueError, match="thing name"):
        registry.create_thing(name)


def test_principals_attach_both_ways_and_detach(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    registry.create_thing("pi-kitchen")
    registry.attach_thing_principal("pi-kitchen", cert.arn)
    registry.attach_thing_principal("pi-kitchen", cert.arn)
    registry.attach_thing_principal("pi-kitchen", "us-east-1:0d6f4a1c-cognito-identity")
    assert registry.thing_principals("pi-kitchen") == [
        cert.arn,
        "us-east-1:0d6f4a1c-cognito-identity",
    ]
    assert registry.principal_things(cert.arn) == ["pi-kitchen"]
    registry.detach_thing_principal("pi-kitchen", cert.arn)
    registry.detach_thing_principal("pi-kitchen", cert.arn)
    assert registry.principal_things(cert.arn) == []


def test_attaching_needs_the_thing_and_the_certificate(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    with pytest.raises(UnknownResourceError, match="thing"):
        registry.attach_thing_principal("nobody", cert.arn)
    registry.create_thing("pi-kitchen")
    unknown = cert.arn.replace(cert.id, "0" * 64)
    with pytest.raises(UnknownResourceError, match="certificate"):
        registry.attach_thing_principal("pi-kitchen", unknown)
    with pytest.raises(UnknownResourceError, match="certificate"):
        registry.attach_thing_principal("pi-kitchen", cert.arn.replace("us-east-1", "eu-west-1"))
    with pytest.raises(InvalidValueError, match="principal"):
        registry.attach_thing_principal("pi-kitchen", "")
    with pytest.raises(UnknownResourceError, match="thing"):
        registry.thing_principals("nobody")


def test_a_thing_with_principals_is_not_deleted(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    registry.create_thing("pi-kitchen")
    registry.attach_thing_principal("pi-kitchen", cert.arn)
    with pytest.raises(ThingInUseError, match="1 principal"):
        registry.delete_thing("pi-kitchen")
    with pytest.raises(VersionMismatchError):
        registry.delete_thing("pi-kitchen", expected_version=7)
    registry.detach_thing_principal("pi-kitchen", cert.arn)
    assert registry.delete_thing("pi-kitchen", expected_version=1) is True
    assert registry.delete_thing("pi-kitchen") is False
    assert registry.things() == []


# ---------------------------------------------------------------- policies


def test_a_created_policy_is_its_version_1_the_default(registry, clock):
    policy = registry.create_policy("swan-device", DOCUMENT)
    assert policy.arn == "arn:aws:iot:us-east-1:000000000000:policy/swan-device"
    assert (policy.document, policy.version_id, policy.created_at) == (DOCUMENT, "1", clock.now())
    assert registry.policy("swan-device") == policy
    assert registry.policies() == [policy]
    assert registry.policy("nope") is None
    [version] = registry.policy_versions("swan-device")
    assert (version.version_id, version.is_default, version.document) == ("1", True, DOCUMENT)


def test_creating_a_policy_again_is_refused_even_with_the_same_document(registry):
    """As AWS: CreatePolicy of a name in use is ResourceAlreadyExistsException."""
    policy = registry.create_policy("swan-device", DOCUMENT)
    with pytest.raises(ResourceConflictError, match="already exists") as refused:
        registry.create_policy("swan-device", DOCUMENT)
    assert (refused.value.arn, refused.value.aws_error) == (
        policy.arn,
        (409, "ResourceAlreadyExistsException"),
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        ("", "empty"),
        ("[]", "JSON object"),
        ("{}", "Version"),
        (
            '{"Version": "2012-10-17", "Statement": [{"Action": "iot:*", "Resource": "*"}]}',
            "Effect",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
            "Action",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a"}]}',
            "Resource",
        ),
        (document("iot:Connect", padding=2048), "AWS IoT allows at most 2,048"),
    ],
)
def test_documents_aws_refuses_are_refused_as_malformed(registry, text, problem):
    with pytest.raises(InvalidPolicyError, match=problem) as refused:
        registry.create_policy("swan-device", text)
    assert refused.value.aws_error == (400, "MalformedPolicyException")
    assert registry.policy("swan-device") is None


def test_a_condition_is_refused_as_not_evaluated_locally(registry):
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "a", "Resource": "*", "Condition": {"Bool": {}}}
            ],
        }
    )
    with pytest.raises(UnsupportedPolicyDocumentError, match="not evaluated locally") as refused:
        registry.create_policy("swan-device", text)
    assert refused.value.aws_error == (400, "InvalidRequestException")


@pytest.mark.parametrize("name", ["no spaces", "", "x" * 129, "naïve"])
def test_bad_policy_names_are_refused(registry, name):
    with pytest.raises(InvalidValueError, match="policy name") as refused:
        registry.create_policy(name, DOCUMENT)
    assert refused.value.aws_error == (400, "InvalidRequestException")


# ---------------------------------------------------------------- policy versions


def test_versions_are_numbered_and_become_the_default_only_when_asked(registry, clock):
    registry.create_policy("swan-device", DOCUMENT)
    clock.advance(3)
    second = registry.create_policy_version("swan-device", document("iot:Publish"))
    assert (second.version_id, second.is_default, second.created_at) == ("2", False, clock.now())
    assert registry.policy("swan-device").document == DOCUMENT
    third = registry.create_policy_version(
        "swan-device", document("iot:Receive"), set_as_default=True
    )
    assert (third.version_id, third.is_default) == ("3", True)
    policy = registry.policy("swan-device")
    assert (policy.document, policy.version_id, policy.last_modified) == (
        document("iot:Receive"),
        "3",
        clock.now(),
    )
    assert [(v.version, v.is_default) for v in registry.policy_versions("swan-device")] == [
        (1, False),
        (2, False),
        (3, True),
    ]


def test_a_sixth_version_is_refused_until_one_is_deleted(registry):
    registry.create_policy("swan-device", DOCUMENT)
    for action in ("a", "b", "c", "d"):
        registry.create_policy_version("swan-device", document(action))
    with pytest.raises(TooManyVersionsError, match="maximum of 5 versions") as refused:
        registry.create_policy_version("swan-device", document("e"))
    assert refused.value.aws_error == (409, "VersionsLimitExceededException")
    registry.delete_policy_version("swan-device", 2)
    sixth = registry.create_policy_version("swan-device", document("e"))
    assert sixth.version == 6  # version ids are never given out twice
    assert [v.version for v in registry.policy_versions("swan-device")] == [1, 3, 4, 5, 6]


def test_a_new_version_is_checked_as_a_new_policy_is(registry):
    registry.create_policy("swan-device", DOCUMENT)
    with pytest.raises(InvalidPolicyError, match="at most 2,048"):
        registry.create_policy_version("swan-device", document("a", padding=2048))
    with pytest.raises(UnknownResourceError, match="policy"):
        registry.create_policy_version("nope", DOCUMENT)
    assert len(registry.policy_versions("swan-device")) == 1


def test_the_default_version_can_be_changed_but_not_deleted(registry):
    registry.create_policy("swan-device", DOCUMENT)
    registry.create_policy_version("swan-device", document("iot:Publish"))
    with pytest.raises(PolicyConflictError, match="default version") as refused:
        registry.delete_policy_version("swan-device", 1)
    assert refused.value.aws_error == (409, "DeleteConflictException")
    policy = registry.set_default_policy_version("swan-device", 2)
    assert (policy.version, policy.document) == (2, document("iot:Publish"))
    assert registry.policy_version("swan-device", 1).is_default is False
    registry.delete_policy_version("swan-device", 1)
    with pytest.raises(UnknownResourceError, match="policy version"):
        registry.policy_version("swan-device", 1)
    with pytest.raises(UnknownResourceError, match="policy version"):
        registry.set_default_policy_version("swan-device", 9)


def test_a_policy_is_deleted_only_when_detached_and_down_to_its_default(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    registry.create_policy("swan-device", DOCUMENT)
    registry.create_policy_version("swan-device", document("iot:Publish"))
    registry.attach_policy("swan-device", cert.arn)
    with pytest.raises(PolicyConflictError, match="attached"):
        registry.delete_policy("swan-device")
    registry.detach_policy("swan-device", cert.arn)
    with pytest.raises(PolicyConflictError, match="versions besides its default"):
        registry.delete_policy("swan-device")
    registry.delete_policy_version("swan-device", 2)
    registry.delete_policy("swan-device")
    assert registry.policy("swan-device") is None
    with pytest.raises(UnknownResourceError):
        registry.policy_versions("swan-device")


# ---------------------------------------------------------------- the template's policies


def test_deploying_creates_a_missing_policy(registry):
    policy = registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    assert (policy.document, policy.version) == (DOCUMENT, 1)


def test_deploying_an_unchanged_document_again_and_again_adds_no_version(registry):
    """`swan up` runs again and again on the same registry."""
    registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    spelt_otherwise = json.dumps(json.loads(DOCUMENT), indent=4)
    for _ in range(10):
        registry.deploy_policy("DevicePolicy", "swan-device", spelt_otherwise)
    assert [v.version for v in registry.policy_versions("swan-device")] == [1]


def test_deploying_a_changed_document_makes_it_the_new_default_version(registry):
    registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    policy = registry.deploy_policy("DevicePolicy", "swan-device", document("iot:Publish"))
    assert (policy.version, policy.document) == (2, document("iot:Publish"))


def test_deploying_at_five_versions_deletes_the_oldest_first(registry):
    """As CloudFormation updates an AWS::IoT::Policy: never VersionsLimitExceeded."""
    registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    for action in ("a", "b", "c", "d", "e", "f"):
        registry.deploy_policy("DevicePolicy", "swan-device", document(action))
    versions = registry.policy_versions("swan-device")
    assert [(v.version, v.is_default) for v in versions] == [
        (3, False),
        (4, False),
        (5, False),
        (6, False),
        (7, True),
    ]
    assert registry.policy("swan-device").document == document("f")


def test_deploying_when_the_oldest_is_the_default_deletes_it_all_the_same(registry):
    registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    for action in ("a", "b", "c", "d"):
        registry.create_policy_version("swan-device", document(action))
    registry.deploy_policy("DevicePolicy", "swan-device", document("e"))
    assert [(v.version, v.is_default) for v in registry.policy_versions("swan-device")] == [
        (2, False),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
    ]


def test_deploying_an_over_long_policy_fails_as_the_stack_would(registry):
    registry.deploy_policy("DevicePolicy", "swan-device", DOCUMENT)
    with pytest.raises(PolicyDeploymentError) as refused:
        registry.deploy_policy("DevicePolicy", "swan-device", document("a", padding=2048))
    message = str(refused.value)
    assert message.startswith("DevicePolicy (AWS::IoT::Policy) failed: MalformedPolicyException:")
    assert "characters without whitespace; AWS IoT allows at most 2,048" in message
    assert "\n" not in message
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value.error, InvalidPolicyError)
    assert registry.policy("swan-device").document == DOCUMENT  # the stack keeps what it had


def test_deploying_under_a_bad_name_fails_as_the_stack_would(registry):
    with pytest.raises(PolicyDeploymentError, match="InvalidRequestException: invalid policy name"):
        registry.deploy_policy("DevicePolicy", "no spaces", DOCUMENT)


# ---------------------------------------------------------------- attachments


def test_policies_attach_to_certificates(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    policy = registry.create_policy("swan-device", DOCUMENT)
    registry.attach_policy("swan-device", cert.arn)
    registry.attach_policy("swan-device", cert.arn)
    assert registry.attached_policies(cert.arn) == [policy]
    registry.detach_policy("swan-device", cert.arn)
    assert registry.attached_policies(cert.arn) == []
    with pytest.raises(UnknownResourceError, match="policy"):
        registry.attach_policy("nope", cert.arn)
    with pytest.raises(UnknownResourceError, match="certificate"):
        registry.attach_policy("swan-device", cert.arn.replace(cert.id, "1" * 64))


def test_what_a_connect_asks_the_registry_is_searched_for_not_scanned(registry, device):
    """A device's every connect asks for its certificate, its things and its policies (and
    every AttachPolicy for the target's): read by scanning a table, each cost more with
    every device registered."""
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    registry.create_thing("pi-kitchen")
    registry.create_policy("swan-device", DOCUMENT)
    connection = registry._store._database.connection
    with traced(connection) as statements:
        registry.attach_thing_principal("pi-kitchen", cert.arn)
        registry.attach_policy("swan-device", cert.arn)
        assert registry.certificate(cert.id).arn == cert.arn
        assert registry.principal_things(cert.arn) == ["pi-kitchen"]
        assert [policy.name for policy in registry.attached_policies(cert.arn)] == ["swan-device"]
    reads = {
        sql: steps
        for sql, steps in plans(connection, statements).items()
        if sql.lstrip().upper().startswith("SELECT")
    }
    assert len(reads) >= 5
    for sql, steps in reads.items():
        assert not [step for step in steps if step.startswith("SCAN")], (sql, steps)


def test_an_attached_policy_applies_as_its_default_version(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    registry.create_policy("swan-device", DOCUMENT)
    registry.attach_policy("swan-device", cert.arn)
    registry.create_policy_version("swan-device", document("iot:Publish"))
    assert [p.document for p in registry.attached_policies(cert.arn)] == [DOCUMENT]
    registry.set_default_policy_version("swan-device", 2)
    assert [p.document for p in registry.attached_policies(cert.arn)] == [document("iot:Publish")]


def test_a_certificate_takes_ten_policies_and_refuses_an_eleventh(registry, device):
    cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    for n in range(11):
        registry.create_policy(f"p{n}", DOCUMENT)
    for n in range(10):
        registry.attach_policy(f"p{n}", cert.arn)
    registry.attach_policy("p9", cert.arn)  # attached already: no change, no refusal
    with pytest.raises(TooManyPoliciesError, match="maximum of 10 policies") as refused:
        registry.attach_policy("p10", cert.arn)
    assert refused.value.aws_error == (410, "LimitExceededException")
    assert len(registry.attached_policies(cert.arn)) == 10
    registry.detach_policy("p0", cert.arn)
    registry.attach_policy("p10", cert.arn)
    assert "p10" in {p.name for p in registry.attached_policies(cert.arn)}


# ---------------------------------------------------------------- the file


def test_everything_survives_reopening(tmp_path, clock, ca, device):
    path = tmp_path / "registry.db"
    with Registry(path, clock) as first:
        ca_id = first.register_ca(pem(ca), auto_registration=True).id
        cert = first.register_certificate(pem(device), ca_id=ca_id, status="ACTIVE")
        first.create_thing("pi-kitchen")
        first.attach_thing_principal("pi-kitchen", cert.arn)
        first.create_policy("swan-device", DOCUMENT)
        first.attach_policy("swan-device", cert.arn)
        code = first.registration_code()
    with Registry(path, clock) as second:
        assert second.ca(ca_id).auto_registration is True
        assert second.certificate(cert.id) == cert
        assert second.principal_things(cert.arn) == ["pi-kitchen"]
        assert [p.name for p in second.attached_policies(cert.arn)] == ["swan-device"]
        assert second.registration_code() == code
        assert second.ca_for(device.certificate).id == ca_id


def test_the_registration_code_is_stable_and_fits_a_common_name(registry):
    code = registry.registration_code()
    assert len(code) == 64
    assert registry.registration_code() == code


def test_a_corrupt_database_is_a_clear_error_naming_the_file(tmp_path, clock):
    path = tmp_path / "registry.db"
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(RegistryDatabaseError, match="not an SQLite database") as raised:
        Registry(path, clock)
    assert str(path) in str(raised.value)
    assert raised.value.path == path


def test_a_database_from_a_newer_program_is_refused(tmp_path, clock):
    path = tmp_path / "registry.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(RegistryDatabaseError, match="schema version 99"):
        Registry(path, clock)


def test_a_schema_1_database_keeps_its_policies_as_their_only_versions(tmp_path, clock, device):
    """A registry written before policy versions: each policy becomes its version, in effect."""
    path = tmp_path / "registry.db"
    with Registry(path, clock) as registry:
        cert = registry.register_certificate(pem(device), ca_id=None, status="ACTIVE")
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """DROP TABLE policies; DROP TABLE policy_versions;
            CREATE TABLE policies (name TEXT PRIMARY KEY, document TEXT NOT NULL,
                version INTEGER NOT NULL, created_at REAL NOT NULL, modified_at REAL NOT NULL);
            PRAGMA user_version = 1;"""
        )
        connection.execute(
            "INSERT INTO policies VALUES ('swan-device', ?, 3, 1.0, 2.0)", (DOCUMENT,)
        )
        connection.execute("INSERT INTO policy_targets VALUES ('swan-device', ?)", (cert.arn,))
    connection.close()
    with Registry(path, clock) as registry:
        [version] = registry.policy_versions("swan-device")
        assert (version.version, version.is_default, version.document) == (3, True, DOCUMENT)
        assert [p.document for p in registry.attached_policies(cert.arn)] == [DOCUMENT]
        assert registry.create_policy_version("swan-device", document("a")).version == 4
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (2,)
    connection.close()


def test_threads_share_the_registry(registry, ca):
    """The gateway's thread and the HTTP threads call in at once."""
    ca_id = registry.register_ca(pem(ca), auto_registration=True).id
    devices = [issue_device(ca, f"pi-{n}", now=NOW) for n in range(16)]
    errors = []

    def work(issued):
        try:
            record = registry.register_certificate(
                pem(issued), ca_id=ca_id, status="PENDING_ACTIVATION"
            )
            registry.create_thing(record.common_name)
            registry.attach_thing_principal(record.common_name, record.arn)
            registry.set_certificate_status(record.id, "ACTIVE")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(issued,)) for issued in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert {c.status for c in registry.certificates()} == {"ACTIVE"}
    assert len(registry.things()) == 16
