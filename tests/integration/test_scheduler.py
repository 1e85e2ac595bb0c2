"""The EventBridge Scheduler stand-in, through boto3 as the expiry handler uses it, firing
with the template's roles (the expiry role may invoke the expiry function)."""

import json
import queue
import time

import pytest
from support import local_boto3

from swan.adapters.clock import SystemClock
from swan.adapters.scheduler import EventBridgeExpiry, at_expression
from swan.local.authorization import service_roles
from swan.local.scheduler import LocalScheduler, parse_at
from swan.local.stack import LOCAL_ROLE_ARN, local_deployment

ARN = "arn:aws:lambda:us-east-1:000000000000:function:swan-local-expire-countdown"
ROLE = LOCAL_ROLE_ARN  # a schedule fires only with a role of the template that allows it


@pytest.fixture(scope="module")
def roles():
    template, deployment = local_deployment(parameters={"DeviceCaCertificateId": "c" * 64})
    return service_roles(template, deployment.context)


@pytest.fixture
def fired():
    return queue.Queue()


@pytest.fixture
def scheduler(tmp_path, fired, roles):
    running = LocalScheduler(
        tmp_path / "scheduler.db",
        SystemClock(),
        lambda arn, event: fired.put((arn, event)),
        roles=roles,
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def client(scheduler):
    return local_boto3("scheduler", scheduler.url)


def definition(at, **changes):
    return {
        "Name": "button-expiry",
        "GroupName": "swan-expiry",
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": ARN, "RoleArn": ROLE, "Input": json.dumps({"thing": "button"})},
        "ActionAfterCompletion": "NONE",
        **changes,
    }


def test_at_expressions_round_up_to_the_second():
    assert at_expression(1764093600.2) == "at(2025-11-25T18:00:01)"
    assert parse_at("at(2025-11-25T18:00:01)") == 1764093601.0


def test_create_get_update_delete(client):
    client.create_schedule(**definition(time.time() + 3600))
    got = client.get_schedule(Name="button-expiry", GroupName="swan-expiry")
    assert got["Target"]["Arn"] == ARN
    with pytest.raises(client.exceptions.ConflictException):
        client.create_schedule(**definition(time.time() + 3600))
    client.update_schedule(**definition(time.time() + 7200))
    client.delete_schedule(Name="button-expiry", GroupName="swan-expiry")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_schedule(Name="button-expiry", GroupName="swan-expiry")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_schedule(**definition(time.time() + 60))


def test_only_one_time_schedules_run_locally(client):
    with pytest.raises(client.exceptions.ValidationException, match="at\\(\\) schedules"):
        client.create_schedule(**definition(0, ScheduleExpression="rate(5 minutes)"))


def test_a_due_schedule_invokes_its_target_once(client, fired):
    client.create_schedule(**definition(time.time()))
    assert fired.get(timeout=5) == (ARN, {"thing": "button"})
    time.sleep(1.5)
    assert fired.empty()


def test_the_expiry_adapter_creates_then_moves_the_schedule(client, scheduler, fired):
    expiry = EventBridgeExpiry(
        client,
        name="button-expiry",
        group="swan-expiry",
        target_arn=ARN,
        role_arn=ROLE,
        event={"thing": "button"},
    )
    expiry.schedule(time.time() + 3600)
    expiry.schedule(time.time() + 1)
    assert [s.name for s in scheduler.schedules()] == ["button-expiry"]
    assert fired.get(timeout=5)[1] == {"thing": "button"}


def test_schedules_survive_a_restart(tmp_path, client, scheduler, fired, roles):
    client.create_schedule(**definition(time.time() + 2))
    scheduler.stop()
    again = LocalScheduler(
        tmp_path / "scheduler.db",
        SystemClock(),
        lambda arn, event: fired.put((arn, event)),
        roles=roles,
    )
    again.start()
    try:
        assert fired.get(timeout=6)[0] == ARN
    finally:
        again.stop()
