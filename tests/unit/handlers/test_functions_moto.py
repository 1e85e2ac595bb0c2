"""The Lambda functions as AWS runs them: each `sam/functions/*/app.py` imported with the
environment the template gives it, its ports built by `swan.handlers.wiring` (boto3 iot-data,
iot, dynamodb, scheduler), invoked with the events the topic rules, JITR and EventBridge
Scheduler deliver (tests/events), against moto's in-process AWS.

moto's gaps are filled here, never in the code: its iot-data wants the thing in the registry
(the stack creates `button` anyway), its certificate ids are not AWS's (the JITR event
carries moto's), and it keeps no `autoRegistrationStatus` for a CA (reported as ENABLE).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from aws_support import (
    HISTORY_TABLE,
    REGION,
    SCHEDULE_GROUP,
    enroll_device,
    fake_credentials,
    function_environment,
    published,
    report_auto_registration,
    set_up_account,
)
from moto import mock_aws
from support import load_event

FUNCTIONS = Path(__file__).parents[3] / "sam" / "functions"
# tests/integration/test_sam.py runs this module again on what `sam build` built: the
# functions from the build directory, the swan package and its dependencies from the layer
# (PYTHONPATH puts the layer first).
BUILT = os.environ.get("SWAN_BUILT_FUNCTIONS")
FOLDERS = {
    "UpdateButtonStatusFunction": "update_button_status",
    "ExpireCountdownFunction": "expire_countdown",
    "RegisterDeviceFunction": "register_device",
}


class Context:
    """What powertools reads from Lambda's context object."""

    function_name = "swan-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:swan-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def account(monkeypatch):
    fake_credentials(monkeypatch)
    with mock_aws():
        set_up_account(boto3)
        yield


@pytest.fixture
def function(account, monkeypatch):  # noqa: ARG001  (inside the moto account)
    """Import a function's app.py (a cold start) with its environment from the template."""
    environments = function_environment()
    loaded = []

    def cold_start(logical_id, **overrides):
        for name, value in {**environments[logical_id], **overrides}.items():
            monkeypatch.setenv(name, value)
        if BUILT:
            path = Path(BUILT) / logical_id / "app.py"
        else:
            path = FUNCTIONS / FOLDERS[logical_id] / "app.py"
        name = f"swan_app_{FOLDERS[logical_id]}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield cold_start
    for name in loaded:
        sys.modules.pop(name, None)


def shadow():
    iot_data = boto3.client("iot-data", region_name=REGION)
    document = json.loads(iot_data.get_thing_shadow(thingName="button")["payload"].read())
    return document["state"]["reported"]


def schedule():
    scheduler = boto3.client("scheduler", region_name=REGION)
    return scheduler.get_schedule(Name="button-expiry", GroupName=SCHEDULE_GROUP)


def history_items():
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return dynamodb.scan(TableName=HISTORY_TABLE)["Items"]


def test_a_button_click_starts_the_countdown_and_sets_the_alarm(function):
    push = function("UpdateButtonStatusFunction")
    outcome = push.lambda_handler(load_event("rule_iot_button_click"), Context())
    assert outcome["outcome"] == "accepted"
    assert outcome["number"] == 1
    reported = shadow()
    assert reported["pushes"] == 1
    assert reported["lastPush"]["by"] == "G030JF0553648RUH"
    assert reported["lastPush"]["source"] == "button"
    alarm = schedule()
    assert alarm["ScheduleExpression"].startswith("at(")
    assert alarm["Target"]["RoleArn"].endswith("ExpirySchedulerRole-TEST")
    assert json.loads(alarm["Target"]["Input"]) == load_event("scheduler_expiry")


def test_push_requests_are_answered_counted_once_and_kept_in_history(function):
    push = function("UpdateButtonStatusFunction")
    request = load_event("rule_push_request_pi")
    first = push.lambda_handler(request, Context())
    again = push.lambda_handler(request, Context())  # QoS 1 redelivery
    web = push.lambda_handler(load_event("rule_push_request_identity"), Context())
    assert [first["number"], again["number"], web["number"]] == [1, 1, 2]
    assert shadow()["pushes"] == 2
    recent = [(e["n"], e["by"], e["source"]) for e in shadow()["recent"]]
    assert recent == [(2, "web", "web"), (1, "pi-kitchen", "pi")]
    topics = [topic for topic, _ in published()]
    assert topics == [
        "swan/push/pi-kitchen/accepted",
        "swan/push/pi-kitchen/accepted",
        "swan/push/web/us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f/accepted",
    ]
    _, reply = published()[0]
    assert reply["clientToken"] == request["clientToken"]
    kinds = sorted(item["pk"]["S"].split("#")[0] for item in history_items())
    # two pushes, the sequence, two principals' last push and their two tokens, the writer
    assert kinds == ["principal"] * 4 + ["push", "push", "sequence", "writer"]


def test_a_malformed_click_is_counted_in_the_history_table(function):
    push = function("UpdateButtonStatusFunction")
    event = {**load_event("rule_iot_button_click"), "clickType": "TRIPLE"}
    assert push.lambda_handler(event, Context())["outcome"] == "malformed"
    (counter,) = history_items()
    assert (counter["pk"]["S"], counter["sk"]["S"], counter["value"]["N"]) == (
        "counter",
        "malformed_click",
        "1",
    )


def test_the_expiry_alarm_fails_the_world_once_its_deadline_has_passed(function):
    push = function("UpdateButtonStatusFunction", SWAN_PERIOD_SECONDS="10")
    push.lambda_handler(load_event("rule_iot_button_click"), Context())
    expire = function("ExpireCountdownFunction", SWAN_PERIOD_SECONDS="10")
    early = expire.lambda_handler(load_event("scheduler_expiry"), Context())
    assert early["outcome"] == "rescheduled"
    # The deadline passes (the shadow says so; the handler reads the real clock).
    iot_data = boto3.client("iot-data", region_name=REGION)
    reported = shadow()
    reported["deadline"] = reported["updatedAt"] - 1
    iot_data.update_thing_shadow(
        thingName="button", payload=json.dumps({"state": {"reported": reported}})
    )
    late = expire.lambda_handler(load_event("scheduler_expiry"), Context())
    assert late["outcome"] == "failed"
    assert shadow()["phase"] == "failed"
    again = expire.lambda_handler(load_event("scheduler_expiry"), Context())
    assert again == {"outcome": "idle", "reason": "already failed"}
    assert shadow()["failures"] == late["failures"]


def test_a_new_device_certificate_is_registered_just_in_time(function):
    register = function("RegisterDeviceFunction")
    report_auto_registration(register.ports.registry._client)
    iot = boto3.client("iot", region_name=REGION)
    event = enroll_device(iot, "pi-kitchen", datetime.now(UTC) - timedelta(hours=1))
    outcome = register.lambda_handler(event, Context())
    assert outcome["outcome"] == "activated"
    description = iot.describe_certificate(certificateId=event["certificateId"])
    assert description["certificateDescription"]["status"] == "ACTIVE"
    arn = description["certificateDescription"]["certificateArn"]
    assert iot.list_thing_principals(thingName="pi-kitchen")["principals"] == [arn]
    policies = iot.list_attached_policies(target=arn)["policies"]
    assert [p["policyName"] for p in policies] == ["swan-device"]


@pytest.mark.skipif(not BUILT, reason="only when run on sam build's output (test_sam.py)")
def test_the_functions_run_on_the_layers_packages(function):
    function("UpdateButtonStatusFunction")
    import aws_lambda_powertools  # noqa: PLC0415
    import cryptography  # noqa: PLC0415

    import swan  # noqa: PLC0415

    build = Path(BUILT).resolve()
    for module in (swan, aws_lambda_powertools, cryptography):
        assert Path(module.__file__).resolve().is_relative_to(build), module.__file__
