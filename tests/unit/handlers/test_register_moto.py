"""The register handler through boto3 `iot`, against moto's in-process IoT.

moto gives certificates ids of its own (a hash of the PEM text, not of the DER), so these
tests also show that the handler uses only the ids it is given. Two gaps of moto are
filled in here: it neither keeps `allowAutoRegistration` nor reports
`autoRegistrationStatus` (AWS does), and it would let a revoked certificate become ACTIVE
again (AWS does not; the handler never asks).
"""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from support import load_event

from swan.adapters.clock import FakeClock
from swan.adapters.iot import IotDeviceRegistry
from swan.certs.authority import certificate_id, certificate_pem, create_ca, issue_device
from swan.handlers.register import RegistrationPorts, handle_registration

POLICY = "swan-device"
NOW = datetime.now(UTC)
DOCUMENT = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect"}]}
)


@pytest.fixture(scope="module")
def ca():
    return create_ca("Swan Devices CA", now=NOW - timedelta(days=1))


@pytest.fixture
def iot(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("iot", region_name="us-east-1")


def report_auto_registration(client, status="ENABLE"):
    def fill(parsed, **_):
        parsed.get("certificateDescription", {}).setdefault("autoRegistrationStatus", status)

    client.meta.events.register("after-call.iot.DescribeCACertificate", fill)


@pytest.fixture
def ports(iot):
    iot.create_policy(policyName=POLICY, policyDocument=DOCUMENT)
    return RegistrationPorts(IotDeviceRegistry(iot), FakeClock(NOW.timestamp()), POLICY)


def enroll(iot, ca, thing):
    """A CA registered for auto-registration and a device certificate left pending."""
    ca_pem = certificate_pem(ca.certificate).decode()
    ca_id = iot.register_ca_certificate(
        caCertificate=ca_pem, setAsActive=True, allowAutoRegistration=True
    )["certificateId"]
    device = issue_device(ca, thing, now=NOW)
    registered = iot.register_certificate(
        certificatePem=certificate_pem(device.certificate).decode(),
        caCertificatePem=ca_pem,
        status="PENDING_ACTIVATION",
    )
    event = {
        **load_event("jitr_registered"),
        "certificateId": registered["certificateId"],
        "caCertificateId": ca_id,
    }
    return event, registered["certificateArn"], device


def status(iot, cert_id):
    return iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]


def test_moto_ids_are_not_the_der_hash(iot, ca):
    event, _, device = enroll(iot, ca, "pi-ids")
    assert event["certificateId"] != certificate_id(device.certificate)


def test_the_event_activates_the_device_with_thing_and_policy(iot, ports, ca):
    report_auto_registration(iot)
    event, arn, _ = enroll(iot, ca, "pi-kitchen")
    outcome = handle_registration(event, ports)
    assert outcome == {
        "outcome": "activated",
        "certificateId": event["certificateId"],
        "thingName": "pi-kitchen",
    }
    assert status(iot, event["certificateId"]) == "ACTIVE"
    assert iot.describe_thing(thingName="pi-kitchen")["thingName"] == "pi-kitchen"
    assert iot.list_thing_principals(thingName="pi-kitchen")["principals"] == [arn]
    assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == [POLICY]


def test_twice_is_the_same_as_once(iot, ports, ca):
    report_auto_registration(iot)
    event, arn, _ = enroll(iot, ca, "pi-hall")
    handle_registration(event, ports)
    assert handle_registration(event, ports)["outcome"] == "already_active"
    assert iot.list_thing_principals(thingName="pi-hall")["principals"] == [arn]
    assert len(iot.list_attached_policies(target=arn)["policies"]) == 1


def test_a_revoked_certificate_stays_revoked(iot, ports, ca):
    report_auto_registration(iot)
    event, _, _ = enroll(iot, ca, "pi-stolen")
    iot.update_certificate(certificateId=event["certificateId"], newStatus="REVOKED")
    outcome = handle_registration(event, ports)
    assert (outcome["outcome"], outcome["reason"]) == ("refused", "revoked")
    assert status(iot, event["certificateId"]) == "REVOKED"
    assert iot.list_things()["things"] == []


def test_a_ca_that_does_not_report_auto_registration_is_not_trusted_with_it(iot, ports, ca):
    event, _, _ = enroll(iot, ca, "pi-guess")
    outcome = handle_registration(event, ports)
    assert (outcome["outcome"], outcome["reason"]) == ("refused", "auto_registration_disabled")
    assert status(iot, event["certificateId"]) == "PENDING_ACTIVATION"


def test_a_reserved_name_is_refused(iot, ports, ca):
    report_auto_registration(iot)
    event, _, _ = enroll(iot, ca, "button")
    assert handle_registration(event, ports)["reason"] == "reserved_thing_name"
    assert status(iot, event["certificateId"]) == "PENDING_ACTIVATION"


def test_a_boto_error_propagates_and_nothing_is_activated(iot, ca):
    report_auto_registration(iot)
    event, _, _ = enroll(iot, ca, "pi-nopolicy")
    ports = RegistrationPorts(IotDeviceRegistry(iot), FakeClock(NOW.timestamp()), "missing")
    with pytest.raises(ClientError) as raised:
        handle_registration(event, ports)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert status(iot, event["certificateId"]) == "PENDING_ACTIVATION"
