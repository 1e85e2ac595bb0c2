"""`swan up` creates the template's IoT policies as CloudFormation would, through the checks
the control plane makes: a policy AWS IoT would refuse stops it with AWS's error, and a
restart changes a policy only when the template did (a new default version)."""

from __future__ import annotations

import json
import signal

import pytest
from support import any_free_ports, free_port, free_ports

import swan.local.stack
from swan.cli import EXIT_BAD_INPUT, main
from swan.core.countdown import Rules
from swan.local.core.policy_rules import MAX_DOCUMENT_CHARACTERS
from swan.local.registry_errors import InvalidPolicyError, PolicyDeploymentError
from swan.local.stack import TEMPLATE, LocalStack
from swan.local.template import load_template


def template_with(directory, *statements):
    """The project's template with `statements` added to DevicePolicy, written beside links
    to everything else in sam/ (the functions' code is found next to the template)."""
    sam = directory / "sam"
    sam.mkdir()
    for entry in TEMPLATE.parent.iterdir():
        if entry.name != TEMPLATE.name:
            (sam / entry.name).symlink_to(entry)
    template = load_template(TEMPLATE)
    template["Resources"]["DevicePolicy"]["Properties"]["PolicyDocument"]["Statement"] += list(
        statements
    )
    path = sam / TEMPLATE.name
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def deny_topic(name):
    """A statement that changes nothing a device may do (nobody publishes there)."""
    topic = {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:topic/{name}"
    }
    return {"Effect": "Deny", "Action": "iot:Publish", "Resource": topic}


OVER_LONG = deny_topic("x" * MAX_DOCUMENT_CHARACTERS)


def stack_on(state, template=TEMPLATE):
    return LocalStack(
        state, Rules(), certs_dir=state / "certs", ports=free_ports(), template=template
    )


def device_policy_versions(stack):
    registry = stack.running.identity.registry
    name = stack.running.identity.device_policy
    return [(v.version, v.is_default) for v in registry.policy_versions(name)]


def test_an_over_long_policy_stops_the_stack_with_aws_error(tmp_path):
    stack = stack_on(tmp_path / "state", template_with(tmp_path, OVER_LONG))
    with pytest.raises(PolicyDeploymentError) as refused:
        stack.start()
    message = str(refused.value)
    assert message.startswith("DevicePolicy (AWS::IoT::Policy) failed: MalformedPolicyException:")
    assert "characters without whitespace; AWS IoT allows at most 2,048" in message
    assert isinstance(refused.value.error, InvalidPolicyError)
    with pytest.raises(swan.local.stack.StackNotRunningError):
        stack.running  # noqa: B018  (nothing was left running)


def test_swan_up_with_an_over_long_policy_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    over_long = template_with(tmp_path, OVER_LONG)

    class OverLongStack(LocalStack):
        def __init__(self, *args, **options):
            super().__init__(*args, template=over_long, **options)

    monkeypatch.setattr(swan.local.stack, "LocalStack", OverLongStack)
    for variable in any_free_ports():
        monkeypatch.setenv(variable, str(free_port()))
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        code = main(["--state-dir", str(tmp_path / "state"), "up", "--no-web", "--exit-after", "1"])
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    assert code == EXIT_BAD_INPUT
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("swan:")]
    assert len(said) == 1
    assert said[0].startswith(
        "swan: DevicePolicy (AWS::IoT::Policy) failed: MalformedPolicyException:"
    )
    assert said[0].endswith("AWS IoT allows at most 2,048")


def test_restarts_keep_an_unchanged_policy_and_version_a_changed_one(tmp_path):
    state = tmp_path / "state"
    for _ in range(2):
        with stack_on(state) as stack:
            assert device_policy_versions(stack) == [(1, True)]
    changed = template_with(tmp_path, deny_topic("nobody/publishes/here"))
    with stack_on(state, changed) as stack:
        assert device_policy_versions(stack) == [(1, False), (2, True)]
        registry = stack.running.identity.registry
        in_effect = json.loads(registry.policy(stack.running.identity.device_policy).document)
        assert in_effect["Statement"][-1]["Effect"] == "Deny"
