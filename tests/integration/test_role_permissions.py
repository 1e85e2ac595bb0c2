"""Each function runs as its own role from the template, and nothing more: take a permission
out of a role in a copy of sam/template.yaml, start the local stack on that copy, and the
call that needed it fails as it would on AWS, while the role's other calls still work."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import EVENTS, free_ports, local_boto3

from swan.core.countdown import Rules
from swan.local.stack import TEMPLATE, LocalStack

WAIT = 20
PUSH_ROLE = "UpdateButtonStatusFunctionRole"
# The first occurrences in the template: the push function's, then the register function's.
REMOVED = (
    "                - iot:UpdateThingShadow\n",
    "                - iot:DescribeCertificate\n",
)


def without_permissions(template: str) -> str:
    for line in REMOVED:
        narrowed = template.replace(line, "", 1)
        assert narrowed != template, f"the template no longer has {line.strip()!r}"
        template = narrowed
    return template


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("narrowed")
    original = TEMPLATE
    (root / "template.yaml").write_text(without_permissions(original.read_text()))
    (root / "functions").symlink_to(original.parent / "functions")
    running = LocalStack(
        root / "state",
        Rules(),
        certs_dir=root / "certs",
        ports=free_ports(),
        template=root / "template.yaml",
    )
    running.start()
    yield running
    running.stop()


def event(name: str) -> dict[str, object]:
    return json.loads((EVENTS / name).read_text())


def test_a_push_fails_when_the_role_may_not_update_the_shadow(stack):
    push = event("rule_push_request_pi.json") | {"receivedAt": int(time.time() * 1000)}
    with pytest.raises(ClientError) as refused:
        stack.running.host.invoke("UpdateButtonStatusFunction", push).result(WAIT)
    error = refused.value.response["Error"]
    assert refused.value.operation_name == "UpdateThingShadow"
    assert error["Code"] == "ForbiddenException"  # iot-data's 403
    assert f"assumed-role/{PUSH_ROLE}/" in error["Message"]
    assert "not authorized to perform: iot:UpdateThingShadow" in error["Message"]
    assert "thing/button" in error["Message"]


def test_the_role_keeps_what_it_still_has(stack):
    role = stack.credentials.role(PUSH_ROLE)
    iot_data = boto3.client(
        "iot-data",
        endpoint_url=stack.endpoints().iot_data,
        region_name="us-east-1",
        aws_access_key_id=role.access_key_id,
        aws_secret_access_key=role.secret_access_key,
        aws_session_token=role.session_token,
        config=Config(retries={"total_max_attempts": 1}),
    )
    admin = local_boto3("iot-data", stack.endpoints().iot_data, stack)
    admin.update_thing_shadow(thingName="button", payload=b'{"state": {"reported": {"a": 1}}}')
    assert json.load(iot_data.get_thing_shadow(thingName="button")["payload"])["version"] >= 1
    with pytest.raises(ClientError) as refused:
        iot_data.update_thing_shadow(thingName="button", payload=b'{"state": {}}')
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_registration_fails_when_the_role_may_not_read_certificates(stack):
    with pytest.raises(ClientError) as refused:
        stack.running.host.invoke("RegisterDeviceFunction", event("jitr_registered.json")).result(
            WAIT
        )
    error = refused.value.response["Error"]
    assert refused.value.operation_name == "DescribeCertificate"
    assert error["Code"] == "AccessDeniedException"  # the iot control plane's 403
    assert "not authorized to perform: iot:DescribeCertificate" in error["Message"]
