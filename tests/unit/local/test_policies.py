"""The broker's listener ACLs come from the template: the device policy and the browsers'
identity role."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.local.authorization import role_documents
from swan.local.deployment import read_template
from swan.local.intrinsics import context_for
from swan.local.policies import device_acl, identity_acl
from swan.local.template import TemplateError, load_template
from swan.local.web_gateway import mqtt_documents

ROOT = Path(__file__).parents[3]
GOLDEN = ROOT / "tests" / "unit" / "local" / "core" / "golden" / "acl"


@pytest.fixture(scope="module")
def template():
    return load_template(ROOT / "sam" / "template.yaml")


@pytest.fixture(scope="module")
def deployment(template):
    context = context_for(template, attributes={"ExpirySchedulerRole.Arn": "arn:role"})
    return read_template(template, context)


def test_the_listener_acls_are_the_golden_ones(template, deployment):
    assert device_acl(deployment) == (GOLDEN / "device.acl").read_text()
    role = role_documents(template, deployment.context)["WebBackendRole"]
    assert identity_acl(deployment, mqtt_documents(role)) == (GOLDEN / "identity.acl").read_text()


def test_a_template_without_the_policy_is_named(deployment):
    bare = type(deployment)(
        deployment.context, deployment.parameters, deployment.functions, deployment.rules, {}
    )
    with pytest.raises(TemplateError, match="AWS::IoT::Policy") as raised:
        device_acl(bare)
    assert raised.value.resource == "DevicePolicy"
