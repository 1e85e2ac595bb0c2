"""The local iot control plane through boto3, as the register handler and tools call it; and
the register handler itself, loaded from the template, activating a device end to end."""

import json
import queue
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from support import load_event, local_boto3, unique

from swan.adapters.clock import SystemClock
from swan.certs.authority import (
    certificate_id,
    certificate_pem,
    create_ca,
    issue_device,
    issue_verification,
)
from swan.local.controlplane import ControlPlane
from swan.local.deployment import read_template
from swan.local.functions import FunctionHost
from swan.local.intrinsics import context_for
from swan.local.registry import Registry
from swan.local.rules_engine import RulesEngine
from swan.local.stack import TEMPLATE
from swan.local.template import load_template

NOW = datetime.now(UTC)
DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
    }
)
WAIT = 10


@pytest.fixture(scope="module")
def ca():
    return create_ca("Swan Devices CA", now=NOW - timedelta(hours=1))


@pytest.fixture(scope="module")
def other_ca():
    return create_ca("Swan Devices CA", now=NOW - timedelta(hours=1))


@pytest.fixture
def registry(tmp_path):
    with Registry(tmp_path / "registry.db", SystemClock()) as opened:
        yield opened


@pytest.fixture
def plane(registry):
    running = ControlPlane(registry, SystemClock(), endpoint_address="localhost")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def iot(plane):
    return local_boto3("iot", plane.url)


def pem(issued):
    return certificate_pem(issued.certificate).decode()


def register_ca(iot, ca, **options):
    code = iot.get_registration_code()["registrationCode"]
    verification = issue_verification(ca, code, now=NOW)
    return iot.register_ca_certificate(
        caCertificate=pem(ca), verificationCertificate=pem(verification), **options
    )["certificateId"]


def register_device(iot, ca, thing, **options):
    device = issue_device(ca, thing, now=NOW)
    return iot.register_certificate(certificatePem=pem(device), **options)


def error_code(raised):
    return raised.value.response["Error"]["Code"]


# ---------------------------------------------------------------- CA certificates


def test_a_ca_registers_with_the_registration_code(iot, ca):
    registered_at = datetime.now(UTC)
    code = iot.get_registration_code()["registrationCode"]
    assert iot.get_registration_code()["registrationCode"] == code
    ca_id = register_ca(iot, ca, setAsActive=True, allowAutoRegistration=True)
    assert ca_id == certificate_id(ca.certificate)
    described = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert described["certificateArn"] == f"arn:aws:iot:us-east-1:000000000000:cacert/{ca_id}"
    assert (described["status"], described["autoRegistrationStatus"]) == ("ACTIVE", "ENABLE")
    assert described["certificatePem"] == pem(ca)
    assert described["ownedBy"] == "000000000000"
    assert abs(described["creationDate"] - registered_at) < timedelta(minutes=1)
    assert described["validity"]["notAfter"] == ca.certificate.not_valid_after_utc


def test_registering_a_ca_again_is_refused_with_its_id(iot, ca):
    ca_id = register_ca(iot, ca)
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException) as raised:
        register_ca(iot, ca)
    assert raised.value.response["resourceId"] == ca_id
    assert raised.value.response["resourceArn"].endswith(f":cacert/{ca_id}")


def test_the_verification_certificate_must_carry_the_code_and_the_cas_signature(iot, ca, other_ca):
    wrong_code = issue_verification(ca, "0" * 64, now=NOW)
    with pytest.raises(iot.exceptions.RegistrationCodeValidationException):
        iot.register_ca_certificate(caCertificate=pem(ca), verificationCertificate=pem(wrong_code))
    code = iot.get_registration_code()["registrationCode"]
    other = issue_verification(other_ca, code, now=NOW)
    with pytest.raises(iot.exceptions.CertificateValidationException, match="not signed"):
        iot.register_ca_certificate(caCertificate=pem(ca), verificationCertificate=pem(other))


def test_what_is_not_a_usable_ca_is_refused(iot, ca):
    device = issue_device(ca, "pi-x", now=NOW)
    with pytest.raises(iot.exceptions.CertificateValidationException, match="not a CA"):
        iot.register_ca_certificate(caCertificate=pem(device))
    with pytest.raises(iot.exceptions.CertificateValidationException, match="PEM"):
        iot.register_ca_certificate(caCertificate="-----BEGIN CERTIFICATE-----\nxx\n")
    with pytest.raises(iot.exceptions.InvalidRequestException, match="JITP"):
        iot.register_ca_certificate(
            caCertificate=pem(ca), registrationConfig={"templateBody": "{}"}
        )
    with pytest.raises(iot.exceptions.InvalidRequestException, match="SNI_ONLY"):
        iot.register_ca_certificate(
            caCertificate=pem(ca), verificationCertificate=pem(ca), certificateMode="SNI_ONLY"
        )


def test_without_options_a_ca_is_inactive_and_does_not_auto_register(iot, ca):
    ca_id = iot.register_ca_certificate(caCertificate=pem(ca))["certificateId"]
    described = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert (described["status"], described["autoRegistrationStatus"]) == ("INACTIVE", "DISABLE")


def test_update_and_list_ca_certificates(iot, ca, other_ca):
    ca_id = register_ca(iot, ca, setAsActive=True)
    other_id = register_ca(iot, other_ca)
    iot.update_ca_certificate(certificateId=ca_id, newAutoRegistrationStatus="ENABLE")
    iot.update_ca_certificate(certificateId=other_id, newStatus="ACTIVE")
    described = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert (described["status"], described["autoRegistrationStatus"]) == ("ACTIVE", "ENABLE")
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    listed = iot.list_ca_certificates(ascendingOrder=True)["certificates"]
    assert [(c["certificateId"], c["status"]) for c in listed] == [
        (ca_id, "INACTIVE"),
        (other_id, "ACTIVE"),
    ]
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.update_ca_certificate(certificateId=ca_id, newStatus="REVOKED")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.update_ca_certificate(certificateId="a" * 64, newStatus="ACTIVE")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_ca_certificate(certificateId="a" * 64)


# ---------------------------------------------------------------- device certificates


def test_a_device_certificate_registers_pending_and_is_described(iot, ca):
    ca_id = register_ca(iot, ca, setAsActive=True, allowAutoRegistration=True)
    registered = register_device(
        iot, ca, "pi-kitchen", caCertificatePem=pem(ca), status="PENDING_ACTIVATION"
    )
    cert_id = registered["certificateId"]
    assert registered["certificateArn"] == f"arn:aws:iot:us-east-1:000000000000:cert/{cert_id}"
    described = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert described["status"] == "PENDING_ACTIVATION"
    assert described["caCertificateId"] == ca_id
    assert described["certificateArn"] == registered["certificateArn"]
    assert "BEGIN CERTIFICATE" in described["certificatePem"]
    assert described["ownedBy"] == "000000000000"
    assert described["certificateMode"] == "DEFAULT"
    assert described["validity"]["notBefore"] < datetime.now(UTC)


def test_register_certificate_holds_aws_iots_certificate_rules(iot, ca):
    """An expired certificate, or one with a key AWS IoT does not take (swan.certs.checks)."""
    register_ca(iot, ca)
    expired = signed_by(ca, ec.generate_private_key(ec.SECP256R1()), ends=NOW - timedelta(1))
    with pytest.raises(iot.exceptions.CertificateValidationException, match="expired"):
        iot.register_certificate(certificatePem=expired)
    weak = signed_by(ca, rsa.generate_private_key(65537, 1024))  # noqa: S505  (AWS: 2048+)
    with pytest.raises(iot.exceptions.CertificateValidationException, match="1024-bit RSA"):
        iot.register_certificate(certificatePem=weak)


def signed_by(ca, key, *, ends=NOW + timedelta(days=1)):
    """A device certificate for `key`, signed by `ca`, valid until `ends`, as PEM."""
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pi-unfit")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ends - timedelta(days=2))
        .not_valid_after(ends)
        .sign(ca.private_key, hashes.SHA256())
    )
    return certificate_pem(certificate).decode()


def test_register_certificate_finds_the_signing_ca_and_refuses_strangers(iot, ca, other_ca):
    register_ca(iot, ca)
    registered = register_device(iot, ca, "pi-hall", setAsActive=True)
    described = iot.describe_certificate(certificateId=registered["certificateId"])
    assert described["certificateDescription"]["status"] == "ACTIVE"
    with pytest.raises(iot.exceptions.CertificateValidationException, match="no registered CA"):
        register_device(iot, other_ca, "pi-stranger")
    with pytest.raises(iot.exceptions.CertificateValidationException, match="not registered"):
        register_device(iot, ca, "pi-y", caCertificatePem=pem(other_ca))
    with pytest.raises(iot.exceptions.InvalidRequestException, match="status"):
        register_device(iot, ca, "pi-z", status="SHINY")


def test_registering_a_certificate_twice_is_refused(iot, ca):
    register_ca(iot, ca)
    device = issue_device(ca, "pi-twice", now=NOW)
    iot.register_certificate(certificatePem=pem(device))
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException) as raised:
        iot.register_certificate(certificatePem=pem(device))
    assert raised.value.response["resourceId"] == certificate_id(device.certificate)


def test_update_certificate_and_revoked_is_for_good(iot, registry, ca):
    register_ca(iot, ca)
    cert_id = register_device(iot, ca, "pi-rev", status="PENDING_ACTIVATION")["certificateId"]
    changes = queue.Queue()
    registry.on_change(changes.put)
    for status in ("ACTIVE", "INACTIVE", "ACTIVE", "REVOKED"):
        iot.update_certificate(certificateId=cert_id, newStatus=status)
        assert changes.get(timeout=WAIT).status == status
    with pytest.raises(iot.exceptions.CertificateStateException, match="REVOKED"):
        iot.update_certificate(certificateId=cert_id, newStatus="ACTIVE")
    with pytest.raises(iot.exceptions.InvalidRequestException, match="sets itself"):
        iot.update_certificate(certificateId=cert_id, newStatus="PENDING_ACTIVATION")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.update_certificate(certificateId="b" * 64, newStatus="ACTIVE")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_certificate(certificateId="b" * 64)
    with pytest.raises(iot.exceptions.InvalidRequestException, match="64 hexadecimal"):
        iot.describe_certificate(certificateId="z" * 64)


def test_list_certificates_in_pages_and_by_ca(iot, ca, other_ca):
    ca_id = register_ca(iot, ca)
    other_id = register_ca(iot, other_ca)
    mine = [register_device(iot, ca, f"pi-{n}")["certificateId"] for n in range(5)]
    theirs = register_device(iot, other_ca, "pi-other")["certificateId"]
    pages = iot.get_paginator("list_certificates").paginate(
        ascendingOrder=True, PaginationConfig={"PageSize": 2}
    )
    listed = [c["certificateId"] for page in pages for c in page["certificates"]]
    assert listed == [*mine, theirs]
    newest_first = iot.list_certificates(pageSize=1)
    assert newest_first["certificates"][0]["certificateId"] == theirs
    assert "nextMarker" in newest_first
    by_ca = iot.list_certificates_by_ca(caCertificateId=ca_id, ascendingOrder=True)
    assert [c["certificateId"] for c in by_ca["certificates"]] == mine
    by_other = iot.list_certificates_by_ca(caCertificateId=other_id)
    assert [c["certificateId"] for c in by_other["certificates"]] == [theirs]
    with pytest.raises(iot.exceptions.InvalidRequestException, match="marker"):
        iot.list_certificates(marker="bm9wZQ==")


# ---------------------------------------------------------------- things and principals


def test_things_are_created_described_listed_and_deleted(iot):
    created = iot.create_thing(thingName="pi-kitchen")
    assert created["thingArn"] == "arn:aws:iot:us-east-1:000000000000:thing/pi-kitchen"
    assert iot.create_thing(thingName="pi-kitchen")["thingId"] == created["thingId"]
    iot.create_thing(thingName="pi-hall", attributePayload={"attributes": {"room": "hall"}})
    described = iot.describe_thing(thingName="pi-hall")
    assert described["attributes"] == {"room": "hall"}
    assert (described["version"], described["defaultClientId"]) == (1, "pi-hall")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_thing(thingName="pi-hall", attributePayload={"attributes": {"room": "attic"}})
    names = [t["thingName"] for t in iot.list_things()["things"]]
    assert names == ["pi-hall", "pi-kitchen"]
    halls = iot.list_things(attributeName="room", attributeValue="ha", usePrefixAttributeValue=True)
    assert [t["thingName"] for t in halls["things"]] == ["pi-hall"]
    with pytest.raises(iot.exceptions.VersionConflictException):
        iot.delete_thing(thingName="pi-hall", expectedVersion=2)
    iot.delete_thing(thingName="pi-hall")
    iot.delete_thing(thingName="pi-hall")  # gone already: AWS says nothing either
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName="pi-hall")


def test_list_things_in_pages(iot):
    for n in range(7):
        iot.create_thing(thingName=f"pi-{n}")
    pages = iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 3})
    assert [len(page["things"]) for page in pages] == [3, 3, 1]


def test_bad_thing_requests(iot):
    with pytest.raises(iot.exceptions.InvalidRequestException, match="thing name"):
        iot.create_thing(thingName="no spaces")
    with pytest.raises(iot.exceptions.ResourceNotFoundException, match="thingTypeName"):
        iot.create_thing(thingName="pi-typed", thingTypeName="sensor")


def test_principals_attach_list_and_detach(iot, ca):
    register_ca(iot, ca)
    arn = register_device(iot, ca, "pi-p", setAsActive=True)["certificateArn"]
    iot.create_thing(thingName="pi-p")
    iot.attach_thing_principal(thingName="pi-p", principal=arn)
    iot.attach_thing_principal(thingName="pi-p", principal=arn)
    assert iot.list_thing_principals(thingName="pi-p")["principals"] == [arn]
    assert iot.list_principal_things(principal=arn)["things"] == ["pi-p"]
    with pytest.raises(iot.exceptions.InvalidRequestException, match="principal"):
        iot.delete_thing(thingName="pi-p")
    iot.detach_thing_principal(thingName="pi-p", principal=arn)
    assert iot.list_thing_principals(thingName="pi-p")["principals"] == []
    assert iot.list_principal_things(principal=arn)["things"] == []
    unknown = arn.replace(arn[-64:], "c" * 64)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.attach_thing_principal(thingName="pi-p", principal=unknown)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.list_principal_things(principal=unknown)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.attach_thing_principal(thingName="nobody", principal=arn)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.list_thing_principals(thingName="nobody")


# ---------------------------------------------------------------- policies


def test_policies_are_created_attached_listed_and_detached(iot, ca):
    register_ca(iot, ca)
    arn = register_device(iot, ca, "pi-pol", setAsActive=True)["certificateArn"]
    created = iot.create_policy(policyName="swan-device", policyDocument=DOCUMENT)
    assert created["policyArn"] == "arn:aws:iot:us-east-1:000000000000:policy/swan-device"
    assert created["policyVersionId"] == "1"
    got = iot.get_policy(policyName="swan-device")
    assert (got["policyDocument"], got["defaultVersionId"]) == (DOCUMENT, "1")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_policy(policyName="swan-device", policyDocument=DOCUMENT)
    iot.attach_policy(policyName="swan-device", target=arn)
    iot.attach_policy(policyName="swan-device", target=arn)
    attached = iot.list_attached_policies(target=arn)["policies"]
    assert attached == [{"policyName": "swan-device", "policyArn": created["policyArn"]}]
    iot.detach_policy(policyName="swan-device", target=arn)
    assert iot.list_attached_policies(target=arn)["policies"] == []


def test_bad_policy_requests(iot, ca):
    register_ca(iot, ca)
    arn = register_device(iot, ca, "pi-bad", setAsActive=True)["certificateArn"]
    with pytest.raises(iot.exceptions.MalformedPolicyException):
        iot.create_policy(policyName="broken", policyDocument="{not json")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_policy(policyName="nope")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.attach_policy(policyName="nope", target=arn)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.list_attached_policies(target=arn.replace(arn[-64:], "d" * 64))


# ---------------------------------------------------------------- what AWS refuses in a policy


def policy_document(action="iot:Connect", size=None):
    """A valid document allowing `action`; padded to `size` characters without whitespace."""
    statement = {"Effect": "Allow", "Action": action, "Resource": ""}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    if size is not None:
        statement["Resource"] = "x" * (size - len(json.dumps(document, separators=(",", ":"))))
    return json.dumps(document, indent=2)


def refusal(raised):
    """The AWS error as botocore read it: HTTP status, error type, message."""
    response = raised.value.response
    error = response["Error"]
    return response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def test_a_document_of_2048_characters_without_whitespace_is_created(iot):
    document = policy_document(size=2048)
    assert len(document) > 2048
    created = iot.create_policy(policyName="exactly", policyDocument=document)
    assert created["policyDocument"] == document


def test_a_document_over_2048_characters_is_refused_as_malformed(iot):
    with pytest.raises(iot.exceptions.MalformedPolicyException) as raised:
        iot.create_policy(policyName="too-long", policyDocument=policy_document(size=2049))
    status, code, message = refusal(raised)
    assert (status, code) == (400, "MalformedPolicyException")
    assert "2,049 characters without whitespace; AWS IoT allows at most 2,048" in message
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_policy(policyName="too-long")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not JSON"),
        ("", "empty"),
        ('{"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}', "Version"),
        ('{"Version": "2012-10-17"}', "Statement"),
        (
            '{"Version": "2012-10-17", "Statement": [{"Action": "iot:*", "Resource": "*"}]}',
            "Effect",
        ),
        ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Resource": "*"}]}', "Action"),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iot:*"}]}',
            "Resource",
        ),
    ],
)
def test_a_malformed_document_is_refused_as_malformed(iot, document, problem):
    with pytest.raises(iot.exceptions.MalformedPolicyException) as raised:
        iot.create_policy(policyName="malformed", policyDocument=document)
    status, code, message = refusal(raised)
    assert (status, code) == (400, "MalformedPolicyException")
    assert problem in message


@pytest.mark.parametrize("name", ["no spaces", "x" * 129, "semi;colon"])
def test_an_invalid_policy_name_is_an_invalid_request(iot, name):
    with pytest.raises(iot.exceptions.InvalidRequestException) as raised:
        iot.create_policy(policyName=name, policyDocument=policy_document())
    assert refusal(raised)[:2] == (400, "InvalidRequestException")


def test_a_policy_keeps_five_versions_and_refuses_a_sixth(iot):
    iot.create_policy(policyName="versions", policyDocument=policy_document("v1"))
    for n in range(2, 6):
        created = iot.create_policy_version(
            policyName="versions", policyDocument=policy_document(f"v{n}")
        )
        assert (created["policyVersionId"], created["isDefaultVersion"]) == (str(n), False)
    with pytest.raises(iot.exceptions.VersionsLimitExceededException) as raised:
        iot.create_policy_version(policyName="versions", policyDocument=policy_document("v6"))
    status, code, message = refusal(raised)
    assert (status, code) == (409, "VersionsLimitExceededException")
    assert "maximum of 5 versions" in message
    listed = iot.list_policy_versions(policyName="versions")["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in listed] == [
        ("1", True),
        ("2", False),
        ("3", False),
        ("4", False),
        ("5", False),
    ]
    iot.delete_policy_version(policyName="versions", policyVersionId="2")
    sixth = iot.create_policy_version(
        policyName="versions", policyDocument=policy_document("v6"), setAsDefault=True
    )
    assert (sixth["policyVersionId"], sixth["isDefaultVersion"]) == ("6", True)
    got = iot.get_policy(policyName="versions")
    assert (got["defaultVersionId"], got["policyDocument"]) == ("6", policy_document("v6"))


def test_a_new_version_is_refused_as_a_new_policy_is(iot):
    iot.create_policy(policyName="checked", policyDocument=policy_document())
    with pytest.raises(iot.exceptions.MalformedPolicyException):
        iot.create_policy_version(policyName="checked", policyDocument=policy_document(size=2049))
    with pytest.raises(iot.exceptions.MalformedPolicyException):
        iot.create_policy_version(policyName="checked", policyDocument="{not json")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.create_policy_version(policyName="nope", policyDocument=policy_document())
    assert len(iot.list_policy_versions(policyName="checked")["policyVersions"]) == 1


def test_versions_are_read_made_default_and_deleted(iot):
    iot.create_policy(policyName="moving", policyDocument=policy_document("v1"))
    iot.create_policy_version(policyName="moving", policyDocument=policy_document("v2"))
    version = iot.get_policy_version(policyName="moving", policyVersionId="2")
    assert (version["policyDocument"], version["isDefaultVersion"]) == (
        policy_document("v2"),
        False,
    )
    assert version["policyArn"].endswith(":policy/moving")
    with pytest.raises(iot.exceptions.DeleteConflictException) as raised:
        iot.delete_policy_version(policyName="moving", policyVersionId="1")
    assert refusal(raised)[:2] == (409, "DeleteConflictException")
    iot.set_default_policy_version(policyName="moving", policyVersionId="2")
    assert iot.get_policy(policyName="moving")["defaultVersionId"] == "2"
    iot.delete_policy_version(policyName="moving", policyVersionId="1")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_policy_version(policyName="moving", policyVersionId="1")
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.get_policy_version(policyName="moving", policyVersionId="one")
    iot.delete_policy(policyName="moving")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_policy(policyName="moving")


def test_an_attached_policy_is_not_deleted(iot, ca):
    register_ca(iot, ca)
    arn = register_device(iot, ca, "pi-del", setAsActive=True)["certificateArn"]
    iot.create_policy(policyName="in-use", policyDocument=policy_document())
    iot.attach_policy(policyName="in-use", target=arn)
    with pytest.raises(iot.exceptions.DeleteConflictException):
        iot.delete_policy(policyName="in-use")
    iot.detach_policy(policyName="in-use", target=arn)
    iot.delete_policy(policyName="in-use")
    assert iot.list_policies()["policies"] == []


def test_policies_are_listed_a_page_at_a_time(iot):
    for n in range(3):
        iot.create_policy(policyName=f"listed-{n}", policyDocument=policy_document())
    first = iot.list_policies(pageSize=2, ascendingOrder=True)
    assert [p["policyName"] for p in first["policies"]] == ["listed-0", "listed-1"]
    rest = iot.list_policies(pageSize=2, ascendingOrder=True, marker=first["nextMarker"])
    assert [p["policyName"] for p in rest["policies"]] == ["listed-2"]
    assert "nextMarker" not in rest


def test_a_certificate_takes_ten_policies_and_an_eleventh_is_a_limit_exceeded(iot, ca):
    register_ca(iot, ca)
    arn = register_device(iot, ca, "pi-many", setAsActive=True)["certificateArn"]
    for n in range(11):
        iot.create_policy(policyName=f"many-{n}", policyDocument=policy_document())
    for n in range(10):
        iot.attach_policy(policyName=f"many-{n}", target=arn)
    with pytest.raises(iot.exceptions.LimitExceededException) as raised:
        iot.attach_policy(policyName="many-10", target=arn)
    status, code, message = refusal(raised)
    assert (status, code) == (410, "LimitExceededException")
    assert "maximum of 10 policies" in message
    assert len(iot.list_attached_policies(target=arn, pageSize=25)["policies"]) == 10


def test_describe_endpoint(iot):
    assert iot.describe_endpoint()["endpointAddress"] == "localhost"
    assert iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"] == "localhost"
    with pytest.raises(iot.exceptions.InvalidRequestException, match="not served locally"):
        iot.describe_endpoint(endpointType="iot:CredentialProvider")
    with pytest.raises(iot.exceptions.InvalidRequestException, match="not valid"):
        iot.describe_endpoint(endpointType="iot:Nope")


# ---------------------------------------------------------------- the register handler


@pytest.fixture
def register_host(plane, registry, tmp_path):
    """The template's register function in the local function host, its boto3 `iot`
    pointed at the control plane, and the template's device policy in the registry."""
    template = load_template(TEMPLATE)
    role = {"ExpirySchedulerRole.Arn": "arn:aws:iam::000000000000:role/x"}
    # CloudFormation's Ref of an IoT policy is the policy's name; the local context's
    # default is the logical id, so name it, as the local stack has to.
    names = read_template(template, context_for(template, attributes=role)).policies
    policy_name = names["DevicePolicy"].name
    context = context_for(template, resources={"DevicePolicy": policy_name}, attributes=role)
    deployment = read_template(template, context)
    assert deployment.functions["RegisterDeviceFunction"].environment["DEVICE_POLICY_NAME"] == (
        policy_name
    )
    mine = {k: f for k, f in deployment.functions.items() if k == "RegisterDeviceFunction"}
    rules = tuple(r for r in deployment.rules if r.functions == ("RegisterDeviceFunction",))
    registry.create_policy(policy_name, json.dumps(deployment.policies["DevicePolicy"].document))
    environment = {
        "AWS_ENDPOINT_URL_IOT": plane.url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_SERVICE_NAME": "swan.handlers",  # as the local stack hosts them
        "SWAN_HISTORY_DB": str(tmp_path / "history.db"),
    }
    host = FunctionHost(
        replace(deployment, functions=mine, rules=rules),
        template,
        TEMPLATE.parent,
        environment=environment,
    )
    yield host, policy_name
    host.close()


def pending_device(registry, ca, thing):
    """What the gateway does on a device's first connect: the certificate becomes pending
    and the JITR event names it."""
    ca_id = registry.register_ca(certificate_pem(ca.certificate), auto_registration=True).id
    device = issue_device(ca, thing, now=NOW)
    record = registry.register_certificate(
        certificate_pem(device.certificate), ca_id=ca_id, status="PENDING_ACTIVATION"
    )
    event = {**load_event("jitr_registered"), "certificateId": record.id, "caCertificateId": ca_id}
    return record, event


def assert_has_identity(registry, record, thing, policy_name):
    assert registry.certificate(record.id).status == "ACTIVE"
    assert registry.thing(thing) is not None
    assert registry.principal_things(record.arn) == [thing]
    assert [p.name for p in registry.attached_policies(record.arn)] == [policy_name]


def test_the_register_function_activates_a_pending_device(register_host, registry, ca):
    host, policy_name = register_host
    thing = unique("pi-")
    record, event = pending_device(registry, ca, thing)
    outcome = host.invoke("RegisterDeviceFunction", event).result(WAIT)
    assert outcome == {"outcome": "activated", "certificateId": record.id, "thingName": thing}
    assert_has_identity(registry, record, thing, policy_name)
    again = host.invoke("RegisterDeviceFunction", event).result(WAIT)
    assert again["outcome"] == "already_active"
    assert_has_identity(registry, record, thing, policy_name)


def test_the_register_function_leaves_a_revoked_certificate_revoked(register_host, registry, ca):
    host, _ = register_host
    record, event = pending_device(registry, ca, unique("pi-"))
    registry.set_certificate_status(record.id, "REVOKED")
    outcome = host.invoke("RegisterDeviceFunction", event).result(WAIT)
    assert (outcome["outcome"], outcome["reason"]) == ("refused", "revoked")
    assert registry.certificate(record.id).status == "REVOKED"


def test_the_jitr_event_on_the_broker_reaches_the_function(register_host, registry, ca, service):
    """As on AWS: the event published on `$aws/events/certificates/registered/<caId>`, the
    template's topic rule, the function, the device ACTIVE."""
    host, policy_name = register_host
    engine = RulesEngine(host, service)
    engine.start()
    activated = queue.Queue()
    registry.on_change(activated.put)
    try:
        thing = unique("pi-")
        record, event = pending_device(registry, ca, thing)
        topic = f"$aws/events/certificates/registered/{record.ca_id}"
        service.publish(topic, json.dumps(event).encode()).result(WAIT)
        assert activated.get(timeout=WAIT).status == "ACTIVE"
    finally:
        engine.stop()
    assert_has_identity(registry, record, thing, policy_name)
