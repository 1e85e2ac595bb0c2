"""The rules engine and the function host, with a template of their own on the real broker."""

import json
import logging
import queue
import sys
import threading
import time

import pytest
from support import unique

from swan.local.authorization import service_roles
from swan.local.deployment import read_template
from swan.local.functions import FunctionError, FunctionHost
from swan.local.rules_engine import RulesEngine
from swan.local.stack import TEMPLATE as PROJECT_TEMPLATE
from swan.local.stack import local_deployment
from swan.local.template import load_template

HANDLER = """
import os
import threading
import time

EVENTS = []
ARRIVED = threading.Event()
GREETING = os.environ["GREETING"]


def lambda_handler(event, context):
    if event.get("explode"):
        raise RuntimeError("boom")
    EVENTS.append((event, context.function_name, context.get_remaining_time_in_millis()))
    ARRIVED.set()
    return {"ok": True}
"""

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Globals:
  Function:
    Runtime: python3.12
    Timeout: 5
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-recorder
      CodeUri: recorder/
      Handler: app.lambda_handler
      Events:
        Clicks:
          Type: IoTRule
          Properties:
            Sql: "SELECT *, topic(2) AS serial FROM 'PREFIX/+' WHERE clickType <> 'LONG'"
  Forward:
    Type: AWS::IoT::TopicRule
    Properties:
      TopicRulePayload:
        Sql: "SELECT state, topic(2) AS thing FROM 'PREFIX-status/+' WHERE topic(2) <> 'skip'"
        Actions:
          - Republish:
              Topic: "$$aws/PREFIX-out/${topic(2)}/${state.tag}"
              Qos: 1
              RoleArn: !GetAtt ForwardRole.Arn
          - Republish:
              Topic: "PREFIX-status/${topic(2)}"
              RoleArn: !GetAtt ForwardRole.Arn
  ForwardRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: iot.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: forward
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: iot:Publish
                Resource:
                  - !Sub "arn:aws:iot:${AWS::Region}:${AWS::AccountId}:topic/$aws/PREFIX-out/*"
                  - !Sub "arn:aws:iot:${AWS::Region}:${AWS::AccountId}:topic/PREFIX-status/*"
  Disabled:
    Type: AWS::IoT::TopicRule
    Properties:
      TopicRulePayload:
        RuleDisabled: true
        Sql: "SELECT * FROM 'PREFIX/+'"
        Actions:
          - Lambda:
              FunctionArn: !GetAtt Recorder.Arn
"""


@pytest.fixture
def deployed(tmp_path, service):
    prefix = unique("rules")
    (tmp_path / "recorder").mkdir()
    (tmp_path / "recorder" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("PREFIX", prefix))
    template = load_template(tmp_path / "template.yaml")
    deployment = read_template(template)
    host = FunctionHost(deployment, template, tmp_path, environment={})
    engine = RulesEngine(host, service, service_roles(template, deployment.context))
    engine.start()
    module = sys.modules["swan_lambda_Recorder"]
    yield prefix, host, module
    engine.stop()
    host.close()


def test_a_matching_message_invokes_the_function_with_the_rule_output(deployed, service):
    prefix, _, module = deployed
    service.publish(f"{prefix}/G030", json.dumps({"clickType": "SINGLE"}).encode())
    assert module.ARRIVED.wait(10)
    event, name, remaining = module.EVENTS[0]
    assert event == {"clickType": "SINGLE", "serial": "G030"}
    assert name == "swan-local-recorder"
    assert 0 < remaining <= 5000
    assert module.GREETING == "hello"


def test_where_filters_and_disabled_rules_stay_quiet(deployed, service):
    prefix, _, module = deployed
    settle = threading.Event()
    service.publish(f"{prefix}/G030", json.dumps({"clickType": "LONG"}).encode()).result(5)
    service.publish(f"{prefix}/G031", json.dumps({"clickType": "DOUBLE"}).encode()).result(5)
    assert module.ARRIVED.wait(10)
    settle.wait(0.5)  # time for a wrongly routed message to arrive
    assert [event["serial"] for event, _, _ in module.EVENTS] == ["G031"]


def test_a_failing_function_is_logged_and_the_engine_goes_on(deployed, service, caplog):
    prefix, _, module = deployed
    service.publish(f"{prefix}/G030", json.dumps({"clickType": "SINGLE", "explode": 1}).encode())
    service.publish(f"{prefix}/G031", json.dumps({"clickType": "SINGLE"}).encode())
    assert module.ARRIVED.wait(10)
    deadline = time.monotonic() + 10  # the two run concurrently; the failure may log later
    while not any("failed on event" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the failure was not logged"
        time.sleep(0.01)
    failure = next(r for r in caplog.records if "failed on event" in r.getMessage())
    assert "'explode': 1" in failure.getMessage()
    assert failure.exc_info[1].args == ("boom",)


def test_republish_fills_in_the_topic_and_publishes_the_rule_output(deployed, service, caplog):
    prefix, _, _ = deployed
    # A handler's logger (Powertools) may have set the `swan` loggers' level in an earlier test.
    caplog.set_level(logging.INFO, logger="swan.local.rules_engine")
    out = queue.Queue()
    service.subscribe(f"$aws/{prefix}-out/#", out.put)
    service.publish(f"{prefix}-status/pi-1", json.dumps({"state": {"tag": "a"}, "x": 1}).encode())
    service.publish(f"{prefix}-status/skip", json.dumps({"state": {"tag": "b"}}).encode())
    service.publish(f"{prefix}-status/pi-2", json.dumps({"state": {}}).encode())  # no tag
    service.publish(f"{prefix}-status/pi-3", json.dumps({"state": {"tag": "c"}}).encode())
    first, second = out.get(timeout=10), out.get(timeout=10)
    assert (first.topic, first.json()) == (
        f"$aws/{prefix}-out/pi-1/a",
        {"state": {"tag": "a"}, "thing": "pi-1"},
    )
    assert second.topic == f"$aws/{prefix}-out/pi-3/c"  # pi-2's topic could not be filled in
    messages = [r.getMessage() for r in caplog.records]
    assert any("republish skipped" in m and "pi-2" in m for m in messages)
    # The second action would fire its own rule again: refused, every time, not looped; and
    # a substitution sees the message, not the rule's output (AWS: no `${thing}` alias).
    assert any(f"republish to {prefix}-status/pi-1 would loop" in m for m in messages)


def test_functions_are_invoked_by_arn_as_the_scheduler_does(deployed):
    _, host, module = deployed
    arn = "arn:aws:lambda:us-east-1:000000000000:function:swan-local-recorder"
    assert host.invoke(arn, {"from": "scheduler"}).result(10) == {"ok": True}
    assert module.EVENTS[-1][0] == {"from": "scheduler"}
    with pytest.raises(FunctionError, match="no function"):
        host.invoke("arn:aws:lambda:us-east-1:000000000000:function:nope", {})


def test_the_project_template_loads_and_routes_the_push_topics_and_the_status_topic():
    _, deployment = local_deployment(PROJECT_TEMPLATE)
    routes = {rule.query.topic_filter: rule.functions for rule in deployment.rules}
    assert routes == {
        "iotbutton/+": ("UpdateButtonStatusFunction",),
        "swan/push/+": ("UpdateButtonStatusFunction",),
        "swan/push/web/+": ("UpdateButtonStatusFunction",),
        "$aws/events/certificates/registered/+": ("RegisterDeviceFunction",),
        "swan/status/+": (),
    }
    (status,) = (rule for rule in deployment.rules if rule.logical_id == "StatusRule")
    assert status.sql == "SELECT state FROM 'swan/status/+' WHERE topic(3) <> 'button'"
    assert [(r.topic, r.qos, r.role_arn) for r in status.republish] == [
        (
            "$$aws/things/${topic(3)}/shadow/update",
            1,
            "arn:aws:iam::000000000000:role/StatusRuleRole",
        )
    ]
    assert set(deployment.functions) == {
        "UpdateButtonStatusFunction",
        "ExpireCountdownFunction",
        "RegisterDeviceFunction",
    }
