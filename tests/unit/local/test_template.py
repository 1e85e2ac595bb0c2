"""The SAM template read into what the local stack runs: tags, intrinsics, functions, rules."""

from __future__ import annotations

from textwrap import dedent

import pytest

from swan.local.core.iotsql import Message
from swan.local.deployment import SAM_DEFAULT_TIMEOUT, Parameter, Republish, read_template
from swan.local.intrinsics import (
    LOCAL_ACCOUNT_ID,
    LOCAL_REGION,
    LOCAL_STACK_NAME,
    Context,
    context_for,
    resolve,
)
from swan.local.template import TemplateError, load_template, parse_template

LOCAL_ARN = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:function"


def yaml(text):
    return parse_template(dedent(text))


def resolved(text, **overrides):
    """Resolve the `Value` of a small template against its own context."""
    template = yaml(text)
    return resolve(template["Value"], context_for(template, **overrides), "Value")


# ---------------------------------------------------------------- short forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!Ref Name", {"Ref": "Name"}),
        ("!Sub 'a-${B}'", {"Fn::Sub": "a-${B}"}),
        ("!Sub ['a-${B}', {B: !Ref C}]", {"Fn::Sub": ["a-${B}", {"B": {"Ref": "C"}}]}),
        ("!GetAtt Fn.Arn", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!GetAtt Stack.Outputs.Url", {"Fn::GetAtt": ["Stack", "Outputs.Url"]}),
        ("!GetAtt [Fn, Arn]", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
        ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}),
        ("!If [IsProd, a, b]", {"Fn::If": ["IsProd", "a", "b"]}),
        ("!Equals [!Ref Env, prod]", {"Fn::Equals": [{"Ref": "Env"}, "prod"]}),
        ("!Not [!Condition IsProd]", {"Fn::Not": [{"Condition": "IsProd"}]}),
        (
            "!And [!Condition A, !Condition B]",
            {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]},
        ),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!FindInMap [M, k, v]", {"Fn::FindInMap": ["M", "k", "v"]}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}),
        ("!GetAZs ''", {"Fn::GetAZs": ""}),
        ("!GetAZs {Ref: AWS::Region}", {"Fn::GetAZs": {"Ref": "AWS::Region"}}),
        ("!Condition IsProd", {"Condition": "IsProd"}),
        ("!Sub\n  - '${A}'\n  - A: x", {"Fn::Sub": ["${A}", {"A": "x"}]}),
    ],
)
def test_every_short_form_loads_as_its_long_form(text, expected):
    assert parse_template(f"Value: {text}\n")["Value"] == expected


def test_dates_stay_text_as_cloudformation_reads_them():
    template = yaml("""
        AWSTemplateFormatVersion: 2010-09-09
        Version: 2012-10-17
    """)
    assert template == {"AWSTemplateFormatVersion": "2010-09-09", "Version": "2012-10-17"}


def test_json_templates_load_too():
    assert parse_template('{"Resources": {"A": {"Type": "X"}}}') == {
        "Resources": {"A": {"Type": "X"}}
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [", "not a valid YAML template"),
        ("- a\n- b\n", "a template is a mapping"),
        ("", "a template is a mapping"),
        ("a: !Unknown x", "not a valid YAML template"),
    ],
)
def test_bad_yaml_is_a_template_error(text, problem):
    with pytest.raises(TemplateError, match=problem) as caught:
        parse_template(text, "sam/template.yaml")
    assert caught.value.path == "sam/template.yaml"
    assert caught.value.resource is None


def test_load_template_reads_a_file(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Fn:\n    Type: X\n    Properties: {Arn: !GetAtt Fn.Arn}\n")
    assert load_template(path) == {
        "Resources": {"Fn": {"Type": "X", "Properties": {"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}}}
    }


# ---------------------------------------------------------------- intrinsics

BASE = dedent("""
    Parameters:
      Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
      Period: {Type: Number, Default: 6480}
      Zones: {Type: CommaDelimitedList, Default: "a, b"}
      Secret: {Type: String}
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
      IsDev: !Not [!Condition IsProd]
      Both: !And [!Condition IsProd, !Condition IsDev]
      Either: !Or [!Condition IsProd, !Condition IsDev]
    Mappings:
      Sizes: {dev: {memory: 128}, prod: {memory: 1024}}
    Resources:
      Table: {Type: AWS::DynamoDB::Table}
      PushFunction: {Type: AWS::Serverless::Function}
""")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!Ref Env", "dev"),
        ("!Ref Period", "6480"),
        ("!Ref Zones", ["a", "b"]),
        ("!Ref AWS::Region", LOCAL_REGION),
        ("!Ref AWS::AccountId", LOCAL_ACCOUNT_ID),
        ("!Ref AWS::StackName", LOCAL_STACK_NAME),
        ("!Ref AWS::Partition", "aws"),
        ("!Ref AWS::URLSuffix", "amazonaws.com"),
        ("!Ref AWS::NotificationARNs", []),
        ("!Ref Table", "Table"),
        ("!GetAtt PushFunction.Arn", f"{LOCAL_ARN}:PushFunction"),
        ("!Sub '${PushFunction.Arn}'", f"{LOCAL_ARN}:PushFunction"),
        ("!Sub 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/x'",
         f"arn:aws:iot:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:topic/x"),
        ("!Sub 'client/${!iot:Connection.Thing.ThingName}'",
         "client/${iot:Connection.Thing.ThingName}"),
        ("!Sub ['${A}-${Env}-${B}', {A: !Ref Table, B: 2}]", "Table-dev-2"),
        ("!Sub 'no substitutions'", "no substitutions"),
        ("!Join ['-', [a, !Ref Env, 3, true]]", "a-dev-3-true"),
        ("!Join [',', !Ref Zones]", "a,b"),
        ("!If [IsProd, big, small]", "small"),
        ("!If [IsDev, !Ref Env, other]", "dev"),
        ("!Equals [!Ref Period, 6480]", True),
        ("!Equals [[1], [1]]", True),
        ("!Equals [{a: 1}, x]", False),
        ("!Not [!Equals [a, a]]", False),
        ("!And [!Condition IsDev, !Equals [a, a]]", True),
        ("!Condition Both", False),
        ("!Condition Either", True),
        ("{a: 1, b: !Ref AWS::NoValue}", {"a": 1}),
        ("[1, !If [IsProd, 2, !Ref AWS::NoValue], 3]", [1, 3]),
        ("!Ref AWS::NoValue", None),
        ("{Effect: Allow, Condition: {Bool: {x: true}}}",
         {"Effect": "Allow", "Condition": {"Bool": {"x": True}}}),
        ("{Condition: {StringEquals: {a: b}}}", {"Condition": {"StringEquals": {"a": "b"}}}),
        ("[plain, 1, null]", ["plain", 1, None]),
    ],
)  # fmt: skip
def test_intrinsics_resolve_against_the_template_defaults(value, expected):
    assert resolved(f"{BASE}Value: {value}\n") == expected


@pytest.mark.parametrize(
    ("overrides", "value", "expected"),
    [
        ({"parameters": {"Env": "prod"}}, "!If [IsProd, big, small]", "big"),
        ({"parameters": {"Secret": "s3cret"}}, "!Ref Secret", "s3cret"),
        ({"parameters": {"Period": 60}}, "!Ref Period", "60"),
        ({"parameters": {"Zones": ["x", "y"]}}, "!Ref Zones", ["x", "y"]),
        ({"resources": {"Table": "swan-history"}}, "!Ref Table", "swan-history"),
        ({"resources": {"PushFunction": "push"}}, "!GetAtt PushFunction.Arn", f"{LOCAL_ARN}:push"),
        ({"attributes": {"Table.Arn": "arn:local:table"}}, "!GetAtt Table.Arn", "arn:local:table"),
        ({"attributes": {"Table.StreamArn": "s"}}, "!Sub '${Table.StreamArn}'", "s"),
        ({"region": "eu-west-1"}, "!Ref AWS::Region", "eu-west-1"),
        ({"account_id": "123456789012"}, "!Sub '${AWS::AccountId}'", "123456789012"),
        ({"stack_name": "swan"}, "!Ref AWS::StackId", (
            f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}"
            ":stack/swan/00000000-0000-0000-0000-000000000000"
        )),
    ],
)  # fmt: skip
def test_the_caller_overrides_parameters_resources_and_attributes(overrides, value, expected):
    assert resolved(f"{BASE}Value: {value}\n", **overrides) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("!Ref Missing", "no parameter, pseudo parameter or resource is named Missing"),
        ("!Ref Secret", "parameter Secret has no Default and no value was given"),
        ("!Ref [a]", "Ref takes a name, found a list"),
        ("!GetAtt Table.Arn", "no local value for Table.Arn; the caller must give one"),
        ("!GetAtt Nothing.Arn", "no resource is named Nothing"),
        ("!GetAtt [Table]", "expected a list of 2, found a list"),
        ("!Sub '${Missing}'", "no parameter, pseudo parameter or resource is named Missing"),
        ("!Sub '${Table.Arn}'", "no local value for Table.Arn"),
        ("!Sub [text, [not, a, mapping]]", "Fn::Sub variables must be a mapping"),
        ("!Sub [[a], {}]", "Fn::Sub takes text, found a list"),
        ("!Sub '${Zones}'", "expected text, found a list"),
        ("!Join ['-', !Ref Env]", "Fn::Join needs a list, found 'dev'"),
        ("!Join ['-', [[a]]]", "expected text, found a list"),
        ("!Join ['-', [{a: 1}]]", "expected text, found a mapping"),
        ("!If [Nope, a, b]", "no condition is named 'Nope'"),
        ("!If [IsProd, a]", "expected a list of 3"),
        ("!Not [plain]", "expected a condition, found 'plain'"),
        ("!And [!Condition IsProd]", "expected a list of 2 to 10 conditions"),
        ("{'Fn::Transform': {Name: x}}", "Fn::Transform is not supported locally"),
    ],
)
def test_what_cannot_be_resolved_is_an_error_naming_the_path(value, problem):
    with pytest.raises(TemplateError, match=r"^template error at Value") as caught:
        resolved(f"{BASE}Value: {value}\n")
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    "value",
    [
        "!Cidr [10.0.0.0/16, 2, 8]",
        "!GetAZs ''",
        "!ImportValue shared-vpc",
        "!FindInMap [Sizes, dev, memory]",
        "!Select [0, [a, b]]",
        "!Split [',', 'a,b']",
        "!Base64 hello",
        "{'Fn::Transform': {Name: x}}",
    ],
)
def test_an_intrinsic_the_stand_in_does_not_resolve_is_an_error_naming_it(value):
    name = value.removeprefix("{'").split("'")[0] if value.startswith("{") else value.split()[0]
    intrinsic = name if name.startswith("Fn::") else f"Fn::{name[1:]}"
    with pytest.raises(TemplateError) as caught:
        resolved(f"{BASE}Value: [kept, {{Key: {value}}}]\n")
    assert caught.value.path == "Value[1].Key"
    assert caught.value.problem.startswith(f"{intrinsic} is not supported locally")
    assert "Fn::Sub" in caught.value.problem  # and it says what is


def test_conditions_that_refer_to_each_other_are_an_error():
    text = """
        Conditions:
          A: !Condition B
          B: !Not [!Condition A]
        Resources: {}
        Value: !If [A, x, y]
    """
    with pytest.raises(TemplateError, match="conditions refer to each other: A -> B -> A"):
        resolved(text)


def test_resolve_reports_the_path_it_is_given():
    context = Context(resources={"Table": "t"})
    value = {"Environment": {"Variables": {"OTHER": {"Ref": "Nope"}}}}
    with pytest.raises(TemplateError) as caught:
        resolve(value, context, "Resources.PushFunction.Properties")
    assert caught.value.path == (
        "Resources.PushFunction.Properties.Environment.Variables.OTHER.Ref"
    )
    assert caught.value.resource == "PushFunction"
    assert str(caught.value).startswith(
        "template error at Resources.PushFunction.Properties.Environment.Variables.OTHER.Ref: "
    )


def test_a_hand_built_context_resolves_only_what_it_names():
    context = Context(parameters={"Env": "dev"}, resources={"Table": "t"})
    assert resolve({"Fn::Sub": "${Env}-${Table}"}, context) == "dev-t"
    with pytest.raises(TemplateError, match=r"no local value for Table\.Arn"):
        resolve({"Fn::GetAtt": ["Table", "Arn"]}, context)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"parameters": {"Nope": "x"}}, "the template declares no such parameter"),
        ({"parameters": {"Env": "staging"}}, "'staging' is not one of the AllowedValues"),
    ],
)
def test_bad_parameter_overrides_are_errors(overrides, problem):
    with pytest.raises(TemplateError, match=problem):
        context_for(yaml(BASE), **overrides)


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("Resources: []", "Resources", "must be a mapping"),
        ("Parameters: {}", "Resources", "a template needs a Resources section"),
        ("Resources: {A: {Properties: {}}}", "Resources.A", "a mapping with a Type"),
        ("Resources: {}\nParameters: {P: 5}", "Parameters.P", "a mapping with a Type"),
    ],
)
def test_malformed_sections_are_errors(text, path, problem):
    with pytest.raises(TemplateError, match=problem) as caught:
        read_template(yaml(text))
    assert caught.value.path == path


# ---------------------------------------------------------------- the deployment

SAM_TEMPLATE = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Description: The Swan

    Parameters:
      PeriodSeconds:
        Type: Number
        Default: 6480
      IotEndpoint:
        Type: String
        Default: ''

    Conditions:
      HasEndpoint: !Not [!Equals [!Ref IotEndpoint, '']]
      NeverOnLocal: !Equals [!Ref AWS::Region, mars-north-1]

    Globals:
      Function:
        Runtime: python3.11
        Timeout: 10
        CodeUri: functions/shared
        Environment:
          Variables:
            PERIOD_SECONDS: !Ref PeriodSeconds
            BUTTON_THING: button
            LOG_LEVEL: INFO

    Resources:
      HistoryTable:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST

      RepublishRole:
        Type: AWS::IAM::Role

      PushFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/push/
          Handler: app.handler
          Environment:
            Variables:
              HISTORY_TABLE: !Ref HistoryTable
              IOT_ENDPOINT: !If [HasEndpoint, !Ref IotEndpoint, !Ref AWS::NoValue]
              LOG_LEVEL: DEBUG
          Policies:
            - DynamoDBCrudPolicy: {TableName: !Ref HistoryTable}
            - Statement:
                - Effect: Allow
                  Action: iot:UpdateThingShadow
                  Resource: !GetAtt SomeRole.Arn
          Events:
            Clicks:
              Type: IoTRule
              Properties:
                Sql: >-
                  SELECT *, topic(2) AS serial, clientid() AS clientId,
                  timestamp() AS receivedAt FROM 'iotbutton/+'
                AwsIotSqlVersion: '2016-03-23'
            Pushes:
              Type: IoTRule
              Properties:
                Sql: "SELECT *, topic(3) AS thing, clientid() AS clientId, timestamp() AS receivedAt FROM 'swan/push/+'"
            Nightly:
              Type: Schedule
              Properties:
                Schedule: rate(1 day)

      RegisterFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/register
          Handler: handlers.register.lambda_handler
          Runtime: python3.12
          Timeout: 30
          Environment:
            Variables:
              DEVICE_POLICY: !Ref DevicePolicy
              REGION: !Sub '${AWS::Region}'

      ExpireFunction:
        Type: AWS::Serverless::Function
        Properties:
          Handler: expire.handler

      MarsFunction:
        Type: AWS::Serverless::Function
        Condition: NeverOnLocal
        Properties:
          Handler: mars.handler

      JitrRule:
        Type: AWS::IoT::TopicRule
        Properties:
          RuleName: swan_jitr
          TopicRulePayload:
            Sql: SELECT * FROM '$aws/events/certificates/registered/+'
            AwsIotSqlVersion: '2016-03-23'
            RuleDisabled: false
            Actions:
              - Lambda:
                  FunctionArn: !GetAtt RegisterFunction.Arn
              - Republish:
                  Topic: swan/audit/${topic(5)}
                  Qos: 1
                  RoleArn: !GetAtt RepublishRole.Arn
            ErrorAction:
              CloudwatchLogs: {LogGroupName: x, RoleArn: !GetAtt RepublishRole.Arn}

      LegacyButtonRule:
        Type: AWS::IoT::TopicRule
        Properties:
          TopicRulePayload:
            Sql: SELECT * FROM 'iotbutton/+'
            RuleDisabled: true
            Actions:
              - Lambda:
                  FunctionArn: !Sub '${PushFunction.Arn}'
              - DynamoDBv2:
                  PutItem: {TableName: !Ref HistoryTable}
                  RoleArn: !GetAtt RepublishRole.Arn

      DevicePolicy:
        Type: AWS::IoT::Policy
        Properties:
          PolicyName: swan-device
          PolicyDocument:
            Version: 2012-10-17
            Statement:
              - Effect: Allow
                Action: iot:Connect
                Resource: !Sub 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/${!iot:Connection.Thing.ThingName}'

      LampPolicy:
        Type: AWS::IoT::Policy
        Properties:
          PolicyDocument: '{"Version": "2012-10-17", "Statement": []}'
"""  # noqa: E501 - a one-line Sql as people write it


@pytest.fixture
def deployment():
    return read_template(yaml(SAM_TEMPLATE))


def test_functions_merge_globals_with_their_own_properties(deployment):
    push = deployment.functions["PushFunction"]
    assert push.code_uri == "functions/push/"
    assert push.handler == "app.handler"
    assert (push.handler_module, push.handler_name) == ("app", "handler")
    assert push.runtime == "python3.11"
    assert push.timeout == 10
    assert push.environment == {
        "PERIOD_SECONDS": "6480",
        "BUTTON_THING": "button",
        "LOG_LEVEL": "DEBUG",
        "HISTORY_TABLE": "HistoryTable",
    }


def test_a_function_overrides_globals(deployment, tmp_path):
    register = deployment.functions["RegisterFunction"]
    assert (register.handler_module, register.handler_name) == (
        "handlers.register",
        "lambda_handler",
    )
    assert register.runtime == "python3.12"
    assert register.timeout == 30
    assert register.environment["DEVICE_POLICY"] == "DevicePolicy"
    assert register.environment["REGION"] == LOCAL_REGION
    assert register.environment["LOG_LEVEL"] == "INFO"
    assert register.code_dir(tmp_path) == tmp_path / "functions" / "register"


def test_a_function_takes_its_code_from_globals(deployment):
    assert deployment.functions["ExpireFunction"].code_uri == "functions/shared"


def test_resources_whose_condition_is_false_are_left_out(deployment):
    assert set(deployment.functions) == {"PushFunction", "RegisterFunction", "ExpireFunction"}


def test_rules_come_from_sam_events_and_topic_rule_resources(deployment):
    rules = {rule.logical_id: rule for rule in deployment.rules}
    assert set(rules) == {
        "PushFunctionClicks",
        "PushFunctionPushes",
        "JitrRule",
        "LegacyButtonRule",
    }
    clicks = rules["PushFunctionClicks"]
    assert clicks.sql == (
        "SELECT *, topic(2) AS serial, clientid() AS clientId, "
        "timestamp() AS receivedAt FROM 'iotbutton/+'"
    )
    assert clicks.sql_version == "2016-03-23"
    assert clicks.enabled
    assert clicks.functions == ("PushFunction",)
    assert rules["PushFunctionPushes"].query.topic_filter == "swan/push/+"
    assert rules["PushFunctionPushes"].sql_version is None


def test_topic_rule_actions(deployment):
    rules = {rule.logical_id: rule for rule in deployment.rules}
    jitr = rules["JitrRule"]
    assert jitr.name == "swan_jitr"
    assert jitr.enabled
    assert jitr.functions == ("RegisterFunction",)
    role = "arn:aws:iam::000000000000:role/RepublishRole"
    assert jitr.republish == (Republish("swan/audit/${topic(5)}", role, qos=1),)
    assert jitr.other_actions == ()
    legacy = rules["LegacyButtonRule"]
    assert legacy.name == "LegacyButtonRule"
    assert not legacy.enabled
    assert legacy.functions == ("PushFunction",)
    assert legacy.other_actions == ("DynamoDBv2",)


def enabled_rules_for(deployment, topic):
    """What the rules engine runs for a message on `topic`."""
    return [r for r in deployment.rules if r.enabled and r.query.matches_topic(topic)]


def test_rules_for_a_topic_are_the_enabled_matching_ones(deployment):
    assert [r.logical_id for r in enabled_rules_for(deployment, "iotbutton/G030")] == [
        "PushFunctionClicks"
    ]
    assert [r.logical_id for r in enabled_rules_for(deployment, "swan/push/pi-kitchen")] == [
        "PushFunctionPushes"
    ]
    assert enabled_rules_for(deployment, "swan/other") == []


def test_a_rule_evaluates_a_message_end_to_end(deployment):
    (rule,) = enabled_rules_for(deployment, "iotbutton/G030")
    click = {"serialNumber": "G030", "clickType": "SINGLE"}
    output = rule.query.evaluate(Message("iotbutton/G030", click, "G030", 1_000))
    assert output == {**click, "serial": "G030", "clientId": "G030", "receivedAt": 1_000}


def test_policies_are_read_with_their_documents_resolved(deployment):
    device = deployment.policies["DevicePolicy"]
    assert device.name == "swan-device"
    assert device.document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"arn:aws:iot:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}"
                ":client/${iot:Connection.Thing.ThingName}",
            }
        ],
    }
    lamp = deployment.policies["LampPolicy"]
    assert (lamp.name, lamp.document) == ("LampPolicy", {"Version": "2012-10-17", "Statement": []})


def test_parameters_are_listed_with_their_defaults(deployment):
    assert deployment.parameters == {
        "PeriodSeconds": Parameter("PeriodSeconds", "Number", "6480"),
        "IotEndpoint": Parameter("IotEndpoint", "String", ""),
    }


def test_the_engine_passes_its_own_values(deployment):
    template = yaml(SAM_TEMPLATE)
    context = context_for(
        template,
        parameters={"PeriodSeconds": 60, "IotEndpoint": "http://127.0.0.1:8443"},
        resources={"HistoryTable": "swan-history"},
        attributes={"PushFunction.Arn": "arn:local:push"},
    )
    local = read_template(template, context)
    assert local.context is context
    push = local.functions["PushFunction"]
    assert push.environment["PERIOD_SECONDS"] == "60"
    assert push.environment["HISTORY_TABLE"] == "swan-history"
    assert push.environment["IOT_ENDPOINT"] == "http://127.0.0.1:8443"
    assert deployment.functions["PushFunction"].environment.keys() == push.environment.keys() - {
        "IOT_ENDPOINT"
    }
    # The rule's target is found by the ARN the engine gave, in both the !Sub and !GetAtt forms.
    assert {rule.logical_id: rule.functions for rule in local.rules}["LegacyButtonRule"] == (
        "PushFunction",
    )


def test_a_function_without_an_explicit_timeout_gets_the_sam_default():
    template = yaml("""
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: src, Handler: app.handler}
    """)
    function = read_template(template).functions["Fn"]
    assert function.timeout == SAM_DEFAULT_TIMEOUT
    assert function.runtime is None
    assert function.environment == {}


FUNCTION = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src
          Handler: app.handler
"""


@pytest.mark.parametrize(
    ("extra", "path", "problem"),
    [
        (
            "Handler: handler",
            "Resources.Fn.Properties.Handler",
            "expected module.function, found 'handler'",
        ),
        (
            "CodeUri: {Bucket: b, Key: k}",
            "Resources.Fn.Properties.CodeUri",
            "the local stack runs code from a local CodeUri",
        ),
        ("Timeout: soon", "Resources.Fn.Properties.Timeout", "expected a whole number"),
        (
            "Environment: {Variables: {A: !GetAtt Fn.Nope}}",
            "Resources.Fn.Properties.Environment.Variables.A.Fn::GetAtt",
            "no local value for Fn.Nope",
        ),
        (
            "Environment: {Variables: {A: [1]}}",
            "Resources.Fn.Properties.Environment.Variables.A",
            "expected text, found a list",
        ),
        (
            "Environment: {Variables: [A]}",
            "Resources.Fn.Properties.Environment.Variables",
            "expected a mapping, found a list",
        ),
        (
            "Events: {E: {Type: IoTRule, Properties: {Sql: SELECT x FROM topic}}}",
            "Resources.Fn.Properties.Events.E.Properties.Sql",
            "invalid IoT SQL at offset 14: expected a topic filter in single quotes",
        ),
        (
            "Events: {E: {Type: IoTRule, Properties: {}}}",
            "Resources.Fn.Properties.Events.E.Properties.Sql",
            "Sql is required",
        ),
        ("Events: [x]", "Resources.Fn.Properties.Events", "expected a mapping, found a list"),
    ],
)
def test_bad_functions_are_errors_naming_resource_and_path(extra, path, problem):
    template = yaml(FUNCTION + f"          {extra}\n")
    with pytest.raises(TemplateError) as caught:
        read_template(template)
    assert caught.value.path == path
    assert caught.value.resource == "Fn"
    assert problem in caught.value.problem


def test_a_handler_in_globals_is_blamed_on_globals():
    template = yaml("""
        Globals: {Function: {Handler: nodots}}
        Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: src}}}
    """)
    with pytest.raises(TemplateError) as caught:
        read_template(template)
    assert caught.value.path == "Globals.Function.Handler"
    assert caught.value.resource is None


def test_a_function_needs_a_handler():
    template = yaml("Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {}}}")
    with pytest.raises(TemplateError, match="Handler is required"):
        read_template(template)


RULE = """
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src
          Handler: app.handler
      Rule:
        Type: AWS::IoT::TopicRule
        Properties:
          TopicRulePayload:
            Sql: SELECT * FROM 'a/+'
"""


@pytest.mark.parametrize(
    ("extra", "path", "problem"),
    [
        (
            "Actions: [{Lambda: {FunctionArn: 'arn:aws:lambda:x:y:function:other'}}]",
            "Resources.Rule.Properties.TopicRulePayload.Actions[0].Lambda.FunctionArn",
            "arn:aws:lambda:x:y:function:other is not the Arn of a function in this template",
        ),
        (
            "Actions: [{Lambda: {}}]",
            "Resources.Rule.Properties.TopicRulePayload.Actions[0].Lambda.FunctionArn",
            "FunctionArn is required",
        ),
        (
            "Actions: [{Lambda: {FunctionArn: !GetAtt Fn.Arn}, Sns: {}}]",
            "Resources.Rule.Properties.TopicRulePayload.Actions[0]",
            "an action is a mapping with one action type",
        ),
        (
            "Actions: {Lambda: {}}",
            "Resources.Rule.Properties.TopicRulePayload.Actions",
            "expected a list of actions",
        ),
        (
            "Actions: [{Republish: {Qos: 1}}]",
            "Resources.Rule.Properties.TopicRulePayload.Actions[0].Republish.Topic",
            "Topic is required",
        ),
        (
            "RuleDisabled: maybe",
            "Resources.Rule.Properties.TopicRulePayload.RuleDisabled",
            "expected true or false, found 'maybe'",
        ),
    ],
)
def test_bad_topic_rules_are_errors_naming_resource_and_path(extra, path, problem):
    template = yaml(RULE + f"            {extra}\n")
    with pytest.raises(TemplateError) as caught:
        read_template(template)
    assert caught.value.path == path
    assert caught.value.resource == "Rule"
    assert problem in caught.value.problem


def test_a_topic_rule_may_be_disabled_by_a_parameter():
    template = yaml(
        "    Parameters: {Disabled: {Type: String, Default: 'True'}}\n"
        + RULE
        + "            RuleDisabled: !Ref Disabled\n"
    )
    (rule,) = read_template(template).rules
    assert not rule.enabled
    assert rule.functions == ()


def test_a_rule_without_actions_has_no_targets():
    (rule,) = read_template(yaml(RULE)).rules
    assert (rule.functions, rule.republish, rule.other_actions) == ((), (), ())
    assert rule.enabled


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("'{not json'", "not JSON"),
        ("[a]", "a policy document is a mapping"),
        ("'[1]'", "a policy document is a mapping"),
    ],
)
def test_bad_policy_documents_are_errors(document, problem):
    template = yaml(f"""
        Resources:
          Policy:
            Type: AWS::IoT::Policy
            Properties: {{PolicyDocument: {document}}}
    """)
    with pytest.raises(TemplateError, match=problem) as caught:
        read_template(template)
    assert caught.value.path == "Resources.Policy.Properties.PolicyDocument"


@pytest.mark.parametrize(
    ("declaration", "value", "problem"),
    [
        ({"Type": "Number", "MaxValue": 8}, "20", "not greater than 8"),
        ({"Type": "Number", "MinValue": 10}, "9", "not less than 10"),
        ({"Type": "Number"}, "ten", "must be a number"),
        ({"Type": "String", "MaxLength": 3}, "abcd", "at most 3 characters"),
        ({"Type": "String", "MinLength": 2}, "a", "at least 2 characters"),
        ({"Type": "String", "AllowedPattern": "[0-9a-f]{4}"}, "abcde", "must match pattern"),
        ({"Type": "List<Number>", "MaxValue": 5}, "1,7", "not greater than 5"),
    ],
)
def test_a_parameter_cloudformation_would_refuse_is_refused(declaration, value, problem):
    template = {"Parameters": {"P": declaration}, "Resources": {}}
    with pytest.raises(TemplateError, match=problem) as refused:
        context_for(template, parameters={"P": value})
    assert refused.value.path == "Parameters.P"


@pytest.mark.parametrize(
    ("declaration", "value"),
    [
        ({"Type": "Number", "MinValue": 1, "MaxValue": 8}, "5"),
        ({"Type": "String", "AllowedPattern": "|[a-z]+"}, ""),
        ({"Type": "String", "MinLength": 1, "MaxLength": 4, "AllowedPattern": "[a-z]+"}, "swan"),
    ],
)
def test_a_parameter_within_its_constraints_is_taken(declaration, value):
    template = {"Parameters": {"P": declaration}, "Resources": {}}
    assert context_for(template, parameters={"P": value}).parameters["P"] == value


def test_the_constraint_description_is_part_of_the_refusal():
    declaration = {
        "Type": "String",
        "AllowedPattern": "[0-9a-f]{64}",
        "ConstraintDescription": "a CA id",
    }
    template = {"Parameters": {"P": declaration}, "Resources": {}}
    with pytest.raises(TemplateError, match=r"\(a CA id\)"):
        context_for(template, parameters={"P": "nope"})
