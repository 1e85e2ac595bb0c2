"""The roles AWS services assume for the stack hold locally: take a permission out of the
StatusRule's role and the scheduler's role in a copy of sam/template.yaml, start the local
stack on that copy, and what needed it fails as it would on AWS, with an error in the log.

With the real template both work: a device's last will reaches its shadow
(test_pi.py::test_a_pi_that_vanishes_is_marked_offline_in_its_shadow_by_its_last_will) and a
countdown nobody pushes ends in failure (test_pi.py::test_the_countdown_ends_in_failure_frames).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace

import pytest
from support import EVENTS, free_ports, local_boto3, unique

from swan.adapters.mqtt import connect
from swan.core.countdown import Rules
from swan.local.stack import LOCAL_ROLE_ARN, TEMPLATE, LocalStack

WAIT = 20
PERIOD = 2.0
# The StatusRuleRole's one Allow (its Deny stays), and the expiry role's one action.
STATUS_ALLOW = (
    "              - Effect: Allow\n"
    "                Action: iot:Publish\n"
    "                Resource: !Sub arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}"
    ":topic/$aws/things/*/shadow/update\n"
)
EXPIRY_INVOKE = "                Action: lambda:InvokeFunction\n"


def narrowed(template: str) -> str:
    for line, instead in (
        (STATUS_ALLOW, ""),
        (EXPIRY_INVOKE, "                Action: lambda:GetFunction\n"),
    ):
        changed = template.replace(line, instead, 1)
        assert changed != template, f"the template no longer has {line.strip()!r}"
        template = changed
    return template


class Heard(logging.Handler):
    """Error lines of one logger, awaited without sleeping."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.lines.append(record.getMessage())
            self._changed.notify_all()

    def wait_for(self, text: str) -> str:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((line for line in self.lines if text in line), None), WAIT
            )
        assert found, f"no error line with {text!r}; heard {self.lines}"
        return found


@pytest.fixture
def heard():
    handlers = []
    for name in ("swan.local.rules_engine", "swan.local.scheduler"):
        logger = logging.getLogger(name)
        handler = Heard()
        logger.addHandler(handler)
        # A handler's logger (Powertools) may have set the `swan` loggers' level.
        handlers.append((logger, handler, logger.level))
        logger.setLevel(logging.INFO)
    yield handlers[0][1], handlers[1][1]
    for logger, handler, level in handlers:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("narrowed")
    (root / "template.yaml").write_text(narrowed(TEMPLATE.read_text()))
    (root / "functions").symlink_to(TEMPLATE.parent / "functions")
    running = LocalStack(
        root / "state",
        replace(Rules.for_period(PERIOD), min_push_interval=0),
        certs_dir=root / "certs",
        ports=free_ports(),
        template=root / "template.yaml",
    )
    running.start()
    yield running
    running.stop()


def button(stack):
    iot_data = local_boto3("iot-data", stack.endpoints().iot_data, stack)
    return json.load(iot_data.get_thing_shadow(thingName="button")["payload"])["state"]["reported"]


def test_a_devices_status_no_longer_reaches_its_shadow(stack, heard):
    rules, _ = heard
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    try:
        offline = {"state": {"reported": {"online": False}}}
        device.publish(f"swan/status/{thing}", json.dumps(offline).encode()).result(WAIT)
        refused = rules.wait_for(f"republish to $aws/things/{thing}/shadow/update failed")
    finally:
        device.close()
    assert refused.startswith("rule StatusRule: ")
    assert "assumed-role/StatusRuleRole/" in refused
    assert "because no identity-based policy allows the iot:Publish action" in refused
    iot_data = local_boto3("iot-data", stack.endpoints().iot_data, stack)
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=thing)  # nothing ever wrote it


def test_the_expiry_schedule_fires_without_invoking_the_expiry_function(stack, heard):
    _, scheduler = heard
    push = json.loads((EVENTS / "rule_push_request_pi.json").read_text())
    push |= {"clientToken": unique("push-"), "receivedAt": int(time.time() * 1000)}
    stack.running.host.invoke("UpdateButtonStatusFunction", push).result(WAIT)
    deadline = button(stack)["deadline"]
    refused = scheduler.wait_for("was not invoked")
    assert "-expiry: the target arn:aws:lambda:" in refused
    assert ":function:swan-local-expire-countdown was not invoked: User: " in refused
    assert "assumed-role/ExpirySchedulerRole/" in refused
    assert "not authorized to perform: lambda:InvokeFunction" in refused
    assert time.time() >= deadline
    assert button(stack)["phase"] == "counting"  # no failure was recorded


def test_a_schedule_whose_role_the_scheduler_may_not_assume_fires_nothing(stack, heard):
    _, scheduler = heard
    client = local_boto3("scheduler", stack.endpoints().scheduler, stack)
    name = unique("not-trusted-")
    target = {
        "Arn": "arn:aws:lambda:us-east-1:000000000000:function:swan-local-expire-countdown",
        "RoleArn": LOCAL_ROLE_ARN.replace("ExpirySchedulerRole", "StatusRuleRole"),
        "Input": json.dumps({"thing": "button"}),
    }
    client.create_schedule(
        Name=name,
        ScheduleExpression=f"at({time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    refused = scheduler.wait_for(f"default/{name}: the target")
    assert "scheduler.amazonaws.com cannot assume" in refused
    assert "role/StatusRuleRole: its trust policy does not allow sts:AssumeRole" in refused
