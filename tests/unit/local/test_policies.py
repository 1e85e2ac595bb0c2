"""The broker's listener ACLs come from the template's IoT policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.local.deployment import read_template
from swan.local.intrinsics import context_for
from swan.local.policies import device_acl, web_acl
from swan.local.template import TemplateError, load_template

ROOT = Path(__file__).parents[3]
GOLDEN = ROOT / "tests" / "unit" / "local" / "core" / "golden" / "acl"


@pytest.fixture(scope="module")
def deployment():
    template = load_template(ROOT / "sam" / "template.yaml")
    context = context_for(template, attributes={"ExpirySchedulerRole.Arn": "arn:role"})
    return read_template(template, context)


def test_the_listener_acls_are_the_golden_ones(deployment):
    assert device_acl(deployment) == (GOLDEN / "device.acl").read_text()
    assert web_acl(deployment) == (GOLDEN / "web.acl").read_text()


def test_a_template_without_the_policy_is_named(deployment):
    bare = type(deployment)(
        deployment.context, deployment.parameters, deployment.functions, deployment.rules, {}
    )
    with pytest.raises(TemplateError, match="AWS::IoT::Policy") as raised:
        device_acl(bare)
    assert raised.value.resource == "DevicePolicy"
    with pytest.raises(TemplateError, match="WebPolicy"):
        web_acl(bare)
