"""What the local stack runs from the SAM template: functions, topic rules, IoT policies.

`read_template` takes the template as a plain mapping (swan.local.template) and a `Context`
(swan.local.intrinsics) and returns a `Deployment`. Topic rules come from both forms: a SAM
function's `IoTRule` events and explicit `AWS::IoT::TopicRule` resources (Lambda and
Republish actions; other actions are named in `TopicRule.other_actions`, for the engine to
report); a Republish action names the role AWS IoT assumes to publish (`RoleArn`, required).
Only the properties the engine uses are resolved, so an unrelated `!GetAtt` (a role, an IAM
policy) does not need a local value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.local.core.iotsql import InvalidRuleError, Rule, parse_rule
from swan.local.intrinsics import (
    NO_VALUE,
    Context,
    Resolver,
    as_text,
    context_for,
    declared_parameters,
    describe,
    parameter_value,
    resources_of,
    section,
)
from swan.local.template import IOT_POLICY, SERVERLESS_FUNCTION, TOPIC_RULE, TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

IOT_RULE_EVENT: Final = "IoTRule"
SAM_DEFAULT_TIMEOUT: Final = 3
"""Seconds; what SAM gives a function that names no Timeout."""


@dataclass(frozen=True)
class Parameter:
    """A template parameter; `default` is None when it declares none."""

    name: str
    type: str
    default: str | list[str] | None = None


@dataclass(frozen=True)
class Function:
    """A Lambda function, with Globals applied and its environment resolved."""

    logical_id: str
    code_uri: str
    handler: str
    runtime: str | None
    environment: Mapping[str, str]
    timeout: int = SAM_DEFAULT_TIMEOUT

    @property
    def handler_module(self) -> str:
        """The module to import: `app` for the handler `app.lambda_handler`."""
        return self.handler.rpartition(".")[0]

    @property
    def handler_name(self) -> str:
        """The function to call: `lambda_handler` for the handler `app.lambda_handler`."""
        return self.handler.rpartition(".")[2]

    def code_dir(self, template_dir: Path) -> Path:
        """The directory the handler's module is in; CodeUri is relative to the template."""
        return template_dir / self.code_uri


@dataclass(frozen=True)
class Republish:
    """A Republish action. `topic` may hold IoT substitution templates like `${topic(2)}`;
    `role_arn` is the role AWS IoT assumes to publish there."""

    topic: str
    role_arn: str
    qos: int = 0


@dataclass(frozen=True)
class TopicRule:
    """An IoT topic rule, from a SAM IoTRule event or an AWS::IoT::TopicRule resource."""

    logical_id: str
    name: str
    query: Rule
    sql_version: str | None = None
    enabled: bool = True
    functions: tuple[str, ...] = ()
    republish: tuple[Republish, ...] = ()
    other_actions: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        return self.query.sql


@dataclass(frozen=True)
class Policy:
    """An IoT policy: its name and its resolved policy document."""

    logical_id: str
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Deployment:
    """Everything in the template the local stack runs, resolved against `context`."""

    context: Context
    parameters: Mapping[str, Parameter]
    functions: Mapping[str, Function]
    rules: tuple[TopicRule, ...]
    policies: Mapping[str, Policy]


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(path, f"expected a mapping, found {describe(value)}")
    return value


def _optional_text(resolver: Resolver, value: Any, path: str) -> str | None:
    resolved = resolver.value(value, path)
    return None if resolved is None or resolved is NO_VALUE else as_text(resolved, path)


def _required_text(resolver: Resolver, value: Any, path: str, what: str) -> str:
    text = _optional_text(resolver, value, path)
    if text is None:
        raise TemplateError(path, f"{what} is required")
    return text


def _whole_number(resolver: Resolver, value: Any, path: str, default: int) -> int:
    text = _optional_text(resolver, value, path)
    if text is None:
        return default
    if not text.isdigit():
        raise TemplateError(path, f"expected a whole number, found {text!r}")
    return int(text)


def _flag(resolver: Resolver, value: Any, path: str) -> bool:
    text = _optional_text(resolver, value, path)
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise TemplateError(path, f"expected true or false, found {text!r}")
    return text.lower() == "true"


def _parse_sql(resolver: Resolver, value: Any, path: str) -> Rule:
    sql = _required_text(resolver, value, path, "Sql")
    try:
        return parse_rule(sql)
    except InvalidRuleError as error:
        raise TemplateError(path, str(error)) from None


class _Reader:
    def __init__(self, template: Mapping[str, Any], context: Context) -> None:
        self.resolver = Resolver(context)
        self.resources = resources_of(template)
        self.globals = _mapping(section(template, "Globals").get("Function"), "Globals.Function")
        self.functions: dict[str, Function] = {}
        self.rules: list[TopicRule] = []
        self.policies: dict[str, Policy] = {}

    def created(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        return self.resolver.condition(condition, f"Resources.{logical_id}.Condition")

    def read(self) -> None:
        # Rules last: a Lambda action's target is found among the functions read before.
        readers = (
            (SERVERLESS_FUNCTION, self.function),
            (IOT_POLICY, self.policy),
            (TOPIC_RULE, self.topic_rule),
        )
        for kind, read in readers:
            for logical_id, resource in self.resources.items():
                if resource["Type"] == kind and self.created(logical_id, resource):
                    path = f"Resources.{logical_id}.Properties"
                    read(logical_id, _mapping(resource.get("Properties"), path))

    def setting(self, properties: Mapping[str, Any], name: str, path: str) -> tuple[Any, str]:
        """A function property, or its Globals value, and where it came from."""
        if name in properties:
            return properties[name], f"{path}.{name}"
        return self.globals.get(name), f"Globals.Function.{name}"

    def variables(self, properties: Mapping[str, Any], path: str) -> dict[str, str]:
        environment = _mapping(self.resolver.value(properties.get("Environment"), path), path)
        path = f"{path}.Variables"
        return {
            name: as_text(value, f"{path}.{name}")
            for name, value in _mapping(environment.get("Variables"), path).items()
        }

    def function(self, logical_id: str, properties: Mapping[str, Any]) -> None:
        path = f"Resources.{logical_id}.Properties"
        handler = _required_text(
            self.resolver, *self.setting(properties, "Handler", path), "Handler"
        )
        if "." not in handler.strip("."):
            where = self.setting(properties, "Handler", path)[1]
            raise TemplateError(where, f"expected module.function, found {handler!r}")
        code_uri = self.resolver.value(*self.setting(properties, "CodeUri", path))
        if not isinstance(code_uri, str):
            where = self.setting(properties, "CodeUri", path)[1]
            raise TemplateError(where, "the local stack runs code from a local CodeUri")
        self.functions[logical_id] = Function(
            logical_id=logical_id,
            code_uri=code_uri,
            handler=handler,
            runtime=_optional_text(self.resolver, *self.setting(properties, "Runtime", path)),
            # SAM merges the variables: the function's own win over the Globals ones.
            environment=self.variables(self.globals, "Globals.Function.Environment")
            | self.variables(properties, f"{path}.Environment"),
            timeout=_whole_number(
                self.resolver, *self.setting(properties, "Timeout", path), SAM_DEFAULT_TIMEOUT
            ),
        )
        for event_id, event in _mapping(properties.get("Events"), f"{path}.Events").items():
            event_path = f"{path}.Events.{event_id}"
            event_type = self.resolver.value(_mapping(event, event_path).get("Type"), event_path)
            if event_type != IOT_RULE_EVENT:
                continue
            event_properties = _mapping(event.get("Properties"), f"{event_path}.Properties")
            self.rules.append(
                TopicRule(
                    logical_id=f"{logical_id}{event_id}",  # the logical id SAM generates
                    name=f"{logical_id}{event_id}",
                    query=_parse_sql(
                        self.resolver, event_properties.get("Sql"), f"{event_path}.Properties.Sql"
                    ),
                    sql_version=_optional_text(
                        self.resolver,
                        event_properties.get("AwsIotSqlVersion"),
                        f"{event_path}.Properties.AwsIotSqlVersion",
                    ),
                    functions=(logical_id,),
                )
            )

    def topic_rule(self, logical_id: str, properties: Mapping[str, Any]) -> None:
        path = f"Resources.{logical_id}.Properties"
        payload = _mapping(properties.get("TopicRulePayload"), f"{path}.TopicRulePayload")
        path = f"{path}.TopicRulePayload"
        functions: list[str] = []
        republish: list[Republish] = []
        others: list[str] = []
        actions = payload.get("Actions") or []
        if not isinstance(actions, list):
            raise TemplateError(f"{path}.Actions", "expected a list of actions")
        for index, action in enumerate(actions):
            action_path = f"{path}.Actions[{index}]"
            if not isinstance(action, dict) or len(action) != 1:
                raise TemplateError(action_path, "an action is a mapping with one action type")
            ((kind, settings),) = action.items()
            settings = _mapping(settings, f"{action_path}.{kind}")
            if kind == "Lambda":
                functions.append(self.target(settings.get("FunctionArn"), f"{action_path}.Lambda"))
            elif kind == "Republish":
                republish.append(
                    Republish(
                        topic=_required_text(
                            self.resolver,
                            settings.get("Topic"),
                            f"{action_path}.Republish.Topic",
                            "Topic",
                        ),
                        role_arn=_required_text(
                            self.resolver,
                            settings.get("RoleArn"),
                            f"{action_path}.Republish.RoleArn",
                            "RoleArn",
                        ),
                        qos=_whole_number(
                            self.resolver, settings.get("Qos"), f"{action_path}.Republish.Qos", 0
                        ),
                    )
                )
            else:
                others.append(kind)
        self.rules.append(
            TopicRule(
                logical_id=logical_id,
                name=_optional_text(self.resolver, properties.get("RuleName"), f"{path}.RuleName")
                or logical_id,
                query=_parse_sql(self.resolver, payload.get("Sql"), f"{path}.Sql"),
                sql_version=_optional_text(
                    self.resolver, payload.get("AwsIotSqlVersion"), f"{path}.AwsIotSqlVersion"
                ),
                enabled=not _flag(
                    self.resolver, payload.get("RuleDisabled"), f"{path}.RuleDisabled"
                ),
                functions=tuple(functions),
                republish=tuple(republish),
                other_actions=tuple(others),
            )
        )

    def target(self, function_arn: Any, path: str) -> str:
        """The logical id of the function a Lambda action invokes, found by its ARN."""
        arn = _required_text(self.resolver, function_arn, f"{path}.FunctionArn", "FunctionArn")
        attributes = self.resolver.context.attributes
        for logical_id in self.functions:
            if attributes.get(f"{logical_id}.Arn") == arn:
                return logical_id
        raise TemplateError(
            f"{path}.FunctionArn", f"{arn} is not the Arn of a function in this template"
        )

    def policy(self, logical_id: str, properties: Mapping[str, Any]) -> None:
        path = f"Resources.{logical_id}.Properties"
        document = self.resolver.value(properties.get("PolicyDocument"), f"{path}.PolicyDocument")
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as error:
                raise TemplateError(f"{path}.PolicyDocument", f"not JSON: {error}") from None
        if not isinstance(document, dict):
            raise TemplateError(f"{path}.PolicyDocument", "a policy document is a mapping")
        name = _optional_text(self.resolver, properties.get("PolicyName"), f"{path}.PolicyName")
        self.policies[logical_id] = Policy(logical_id, name or logical_id, document)


def _parameters(template: Mapping[str, Any]) -> dict[str, Parameter]:
    declared = declared_parameters(template)
    return {
        name: Parameter(
            name,
            str(declaration.get("Type", "String")),
            parameter_value(declaration, declaration["Default"], f"Parameters.{name}")
            if "Default" in declaration
            else None,
        )
        for name, declaration in declared.items()
    }


def read_template(template: Mapping[str, Any], context: Context | None = None) -> Deployment:
    """What the local stack runs from `template`, resolved against `context`.

    Without a context, `context_for(template)`: parameter defaults and local placeholders.
    Raises `TemplateError` naming the resource and path of anything it cannot read.
    """
    context = context_for(template) if context is None else context
    reader = _Reader(template, context)
    reader.read()
    return Deployment(
        context=context,
        parameters=_parameters(template),
        functions=reader.functions,
        rules=tuple(reader.rules),
        policies=reader.policies,
    )
