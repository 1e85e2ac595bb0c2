"""Helpers for the tests of the AWS side: moto accounts, and resources made as the template
makes them (so a test against moto also checks that the template fits the code)."""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).parents[1] / "sam" / "template.yaml"
# Run against the Lambda layer alone (tests/integration/test_sam.py), the tests have no
# swan.local to read the template with: this names a JSON file of the template and the
# functions' environments that the caller resolved for them.
RESOLVED = "SWAN_RESOLVED_TEMPLATE"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def fake_credentials(monkeypatch) -> None:
    """Credentials and a region for boto3, never real ones (moto accepts anything)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_DATA_PLANE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL_SCHEDULER", "AWS_ENDPOINT_URL_IOT", "SWAN_HISTORY_DB"):
        monkeypatch.delenv(name, raising=False)


@functools.cache
def _template() -> dict[str, Any]:
    if os.environ.get(RESOLVED):
        return json.loads(Path(os.environ[RESOLVED]).read_text())["template"]
    from swan.local.template import load_template  # noqa: PLC0415

    return load_template(TEMPLATE)


def resolved_template() -> dict[str, Any]:
    """What RESOLVED names: the template and the functions' environments."""
    return {"template": template(), "environments": function_environment()}


def template() -> dict[str, Any]:
    """sam/template.yaml, parsed (once per test run; each caller gets its own copy)."""
    return copy.deepcopy(_template())


def template_resource(logical_id: str) -> dict[str, Any]:
    return template()["Resources"][logical_id]


def create_history_table(dynamodb: Any, name: str = "swan-history") -> str:
    """The table as `HistoryTable` in the template declares it (keys, billing)."""
    properties = template_resource("HistoryTable")["Properties"]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    return name


# ---------------------------------------------------------------- an account as the stack leaves it

STACK = "swan"
DEVICE_POLICY = f"{STACK}-device"
SCHEDULE_GROUP = f"{STACK}-expiry"
HISTORY_TABLE = f"{STACK}-HistoryTable-TEST"
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-ExpirySchedulerRole-TEST"


def function_environment(document: dict[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """Each function's environment as CloudFormation would resolve it for the stack `swan`,
    by logical id (from `document`, e.g. a built template; sam/template.yaml by default)."""
    if document is None and os.environ.get(RESOLVED):
        return json.loads(Path(os.environ[RESOLVED]).read_text())["environments"]
    from swan.local.deployment import read_template  # noqa: PLC0415
    from swan.local.intrinsics import context_for  # noqa: PLC0415

    document = template() if document is None else document
    context = context_for(
        document,
        parameters={"DeviceCaCertificateId": "0" * 64},
        resources={
            "DevicePolicy": DEVICE_POLICY,
            "ExpiryScheduleGroup": SCHEDULE_GROUP,
            "HistoryTable": HISTORY_TABLE,
            "ButtonThing": "button",
        },
        attributes={"ExpirySchedulerRole.Arn": SCHEDULER_ROLE_ARN},
        region=REGION,
        account_id=ACCOUNT,
        stack_name=STACK,
    )
    deployment = read_template(document, context)
    return {logical_id: f.environment for logical_id, f in deployment.functions.items()}


def set_up_account(boto3: Any, document: dict[str, Any] | None = None) -> None:
    """What `sam deploy` creates that the functions use, in the current (moto) account:
    the thing `button` (moto's iot-data also wants it in the registry), the device policy,
    the history table, the schedule group."""
    import json  # noqa: PLC0415

    document = template() if document is None else document
    iot = boto3.client("iot", region_name=REGION)
    iot.create_thing(thingName="button")
    # moto does not evaluate IoT policies: the name is what the register function needs
    iot.create_policy(
        policyName=DEVICE_POLICY,
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect"}]}
        ),
    )
    properties = document["Resources"]["HistoryTable"]["Properties"]
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=HISTORY_TABLE,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=SCHEDULE_GROUP)


def enroll_device(iot: Any, thing: str, now: Any) -> dict[str, Any]:
    """A CA registered for auto-registration and a device certificate it signed, left
    PENDING_ACTIVATION as AWS leaves it on the first connect; the JITR event for it (with
    moto's own certificate ids, which are not AWS's)."""
    from support import load_event  # noqa: PLC0415

    from swan.certs.authority import certificate_pem, create_ca, issue_device  # noqa: PLC0415

    ca = create_ca("Swan Devices CA", now=now)
    ca_pem = certificate_pem(ca.certificate).decode()
    ca_id = iot.register_ca_certificate(
        caCertificate=ca_pem, setAsActive=True, allowAutoRegistration=True
    )["certificateId"]
    device = issue_device(ca, thing, now=now)
    registered = iot.register_certificate(
        certificatePem=certificate_pem(device.certificate).decode(),
        caCertificatePem=ca_pem,
        status="PENDING_ACTIVATION",
    )
    return {
        **load_event("jitr_registered"),
        "certificateId": registered["certificateId"],
        "caCertificateId": ca_id,
    }


def report_auto_registration(client: Any) -> None:
    """moto keeps no autoRegistrationStatus (AWS does): report the CA's as ENABLE."""

    def fill(parsed: dict[str, Any], **_: Any) -> None:
        parsed.get("certificateDescription", {}).setdefault("autoRegistrationStatus", "ENABLE")

    client.meta.events.register("after-call.iot.DescribeCACertificate", fill)


def published(region: str = REGION) -> list[tuple[str, Any]]:
    """What iot-data's Publish was given in moto's account, as (topic, JSON payload)."""
    import json  # noqa: PLC0415

    from moto.iotdata.models import iotdata_backends  # noqa: PLC0415

    backend = iotdata_backends[ACCOUNT][region]
    return [(topic, json.loads(payload)) for topic, payload in backend.published_payloads]
