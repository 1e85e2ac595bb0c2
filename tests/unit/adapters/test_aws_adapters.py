"""The boto3 adapters of the push and expiry handlers against moto: the button shadow
(iot-data), reply publishing, and the one expiry schedule (EventBridge Scheduler)."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from aws_support import REGION, fake_credentials, published
from moto import mock_aws

from swan.adapters.iotdata import IotDataPublisher, IotDataShadow, Snapshot, VersionConflictError
from swan.adapters.scheduler import EventBridgeExpiry, at_expression
from swan.core.countdown import Countdown, Push

T0 = 1_764_087_120.5
GROUP = "swan-expiry"
TARGET = f"arn:aws:lambda:{REGION}:123456789012:function:swan-expire-countdown"
ROLE = "arn:aws:iam::123456789012:role/swan-expiry"


@pytest.fixture
def aws(monkeypatch):
    fake_credentials(monkeypatch)
    with mock_aws():
        yield


def countdown(pushes=1, at=T0):
    return Countdown(
        period_seconds=6480,
        deadline=at + 6480,
        phase="counting",
        last_push=Push(at, "pi-kitchen", "pi"),
        pushes=pushes,
        run_started_at=T0,
        failures=0,
        failed_at=None,
        updated_at=at,
    )


@pytest.fixture
def shadow(aws):  # noqa: ARG001
    # moto's iot-data serves shadows only of things in its registry (AWS does not ask)
    boto3.client("iot", region_name=REGION).create_thing(thingName="button")
    return IotDataShadow(boto3.client("iot-data", region_name=REGION), "button")


def test_there_is_no_countdown_before_the_first_write(shadow):
    assert shadow.read() == Snapshot(None, None)


def test_a_written_countdown_reads_back_with_its_version(shadow):
    first = shadow.write(countdown(), None)
    second = shadow.write(countdown(2, T0 + 5), first)
    snapshot = shadow.read()
    assert snapshot.version == second == first + 1
    assert snapshot.countdown == countdown(2, T0 + 5)


def test_a_write_against_a_stale_version_is_a_conflict(shadow):
    version = shadow.write(countdown(), None)
    shadow.write(countdown(2), version)
    with pytest.raises(VersionConflictError) as raised:
        shadow.write(countdown(3), version)
    assert raised.value.version == version
    assert shadow.read().countdown.pushes == 2


def test_a_failed_countdown_keeps_its_failure(shadow):
    failed = replace(countdown(), phase="failed", failures=1, failed_at=T0 + 6480)
    shadow.write(failed, None)
    assert shadow.read().countdown == failed


def test_replies_are_published_as_json(aws):  # noqa: ARG001
    publisher = IotDataPublisher(boto3.client("iot-data", region_name=REGION))
    publisher.publish("swan/push/pi-kitchen/accepted", {"clientToken": "t", "pushes": 3})
    assert published() == [("swan/push/pi-kitchen/accepted", {"clientToken": "t", "pushes": 3})]


@pytest.fixture
def scheduler(aws):  # noqa: ARG001
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP)
    return client


def expiry(client):
    return EventBridgeExpiry(
        client,
        name="button-expiry",
        group=GROUP,
        target_arn=TARGET,
        role_arn=ROLE,
        event={"thing": "button"},
    )


def test_the_first_alarm_creates_the_schedule(scheduler):
    expiry(scheduler).schedule(T0 + 6480)
    found = scheduler.get_schedule(Name="button-expiry", GroupName=GROUP)
    assert found["ScheduleExpression"] == at_expression(T0 + 6480)
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Arn"] == TARGET
    assert found["Target"]["RoleArn"] == ROLE
    assert json.loads(found["Target"]["Input"]) == {"thing": "button"}


def test_a_later_alarm_moves_the_same_schedule(scheduler):
    alarm = expiry(scheduler)
    alarm.schedule(T0 + 6480)
    alarm.schedule(T0 + 2 * 6480)
    (only,) = scheduler.list_schedules(GroupName=GROUP)["Schedules"]
    assert only["Name"] == "button-expiry"
    found = scheduler.get_schedule(Name="button-expiry", GroupName=GROUP)
    assert found["ScheduleExpression"] == at_expression(T0 + 2 * 6480)


def test_a_schedule_created_by_a_racing_handler_is_moved_instead(scheduler):
    other = boto3.client("scheduler", region_name=REGION)

    def race(**_):
        # between our update (not found) and our create, another handler creates it
        scheduler.meta.events.unregister("before-call.scheduler.CreateSchedule", race)
        expiry(other).schedule(T0)

    scheduler.meta.events.register("before-call.scheduler.CreateSchedule", race)
    expiry(scheduler).schedule(T0 + 6480)
    found = other.get_schedule(Name="button-expiry", GroupName=GROUP)
    assert found["ScheduleExpression"] == at_expression(T0 + 6480)
