"""The SAM template, read into what the local rules engine runs: functions, topic rules, policies.

`load_template` is the only I/O: it reads the YAML file. Everything else takes the template as
a plain mapping, with every CloudFormation short form (`!Ref`, `!Sub`, ...) already turned into
its long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`), and returns values.

Intrinsic functions are resolved against a `Context`: parameter values, the Ref value and
attributes of each resource, and the pseudo parameters of a local stack. `context_for` fills
what AWS would: parameter defaults, each resource's logical id as its physical id, and for
each Lambda function and each IAM role a local ARN as its `Arn`; the caller overrides any
of them (the local engine gives local endpoint URLs, say). Anything else, e.g. `!GetAtt
Table.Arn` without a value, raises `TemplateError` naming where in the template it was,
rather than guessing.

Topic rules come from both forms: a SAM function's `IoTRule` events and explicit
`AWS::IoT::TopicRule` resources (Lambda and Republish actions; other actions are named in
`TopicRule.other_actions`, for the engine to report); a Republish action names the role AWS
IoT assumes to publish (`RoleArn`, required). Only the properties the engine uses are
resolved, so an unrelated `!GetAtt` (a role, an IAM policy) does not need a local value.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

import yaml

from swan.core.errors import SwanError
from swan.local.core.iotsql import InvalidRuleError, Rule, parse_rule

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
LAMBDA_FUNCTION: Final = "AWS::Lambda::Function"
TOPIC_RULE: Final = "AWS::IoT::TopicRule"
IOT_POLICY: Final = "AWS::IoT::Policy"
IAM_ROLE: Final = "AWS::IAM::Role"
IOT_RULE_EVENT: Final = "IoTRule"

LOCAL_REGION: Final = "us-east-1"
LOCAL_ACCOUNT_ID: Final = "000000000000"
LOCAL_STACK_NAME: Final = "swan-local"
SAM_DEFAULT_TIMEOUT: Final = 3
"""Seconds; what SAM gives a function that names no Timeout."""


class TemplateError(SwanError, ValueError):
    """The template is not one the local stack can run.

    `path` says where, e.g. `Resources.PushFunction.Properties.Environment.Variables.TABLE`;
    `resource` is the logical id in it, if any.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        parts = path.split(".")
        self.resource = parts[1] if len(parts) > 1 and parts[0] == "Resources" else None
        super().__init__(f"template error at {path}: {problem}")


# ---------------------------------------------------------------- loading YAML

_SHORT_FORMS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub",
            "GetAtt",
            "Join",
            "Select",
            "Split",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "FindInMap",
            "ImportValue",
            "Base64",
            "Cidr",
            "GetAZs",
        )
    },
}


class _TemplateLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the CloudFormation tags, and dates kept as text."""


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _long_form(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _node_value(loader, node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            # `!GetAtt Resource.Attribute`; an attribute may hold dots (`Stack.Outputs.Name`).
            value = value.split(".", 1)
        return {name: value}

    return construct


def _text_scalar(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation reads `Version: 2012-10-17` as text; YAML 1.1 would make it a date.
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


for _short, _long in _SHORT_FORMS.items():
    _TemplateLoader.add_constructor(f"!{_short}", _long_form(_long))
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _text_scalar)


def parse_template(text: str, source: str = "<text>") -> dict[str, Any]:
    """The template in `text` (YAML or JSON) as a mapping, intrinsics in their long form."""
    loader = _TemplateLoader(text)
    try:
        document = loader.get_single_data()
    except (yaml.YAMLError, RecursionError) as error:
        raise TemplateError(source, f"not a valid YAML template: {error}") from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise TemplateError(source, "a template is a mapping of sections")
    return document


def load_template(path: Path) -> dict[str, Any]:
    """Read and parse the template file at `path`."""
    return parse_template(path.read_text(encoding="utf-8"), str(path))


# ---------------------------------------------------------------- the resolution context


@dataclass(frozen=True)
class Context:
    """What intrinsic functions resolve against. Build one with `context_for`.

    `resources` maps a logical id to its Ref value (its physical id); `attributes` maps
    `"LogicalId.Attribute"` to its Fn::GetAtt value; `exports` serves Fn::ImportValue.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    exports: Mapping[str, Any] = field(default_factory=dict)
    declared_parameters: frozenset[str] = frozenset()
    region: str = LOCAL_REGION
    account_id: str = LOCAL_ACCOUNT_ID
    stack_name: str = LOCAL_STACK_NAME
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    @property
    def pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}"
                f":stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
        }

    def function_arn(self, function_name: str) -> str:
        """The ARN a Lambda function of this name would have in this account and region."""
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{function_name}"
        )

    def role_arn(self, role_name: str) -> str:
        """The ARN an IAM role of this name (and the default path, `/`) would have."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role_name}"


def _section(template: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = template.get(name, {})
    if not isinstance(section, dict):
        raise TemplateError(name, "must be a mapping")
    return section


def _resources(template: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    if "Resources" not in template:
        raise TemplateError("Resources", "a template needs a Resources section")
    resources = _section(template, "Resources")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"Resources.{logical_id}", "a resource is a mapping with a Type")
    return resources


def _declared_parameters(template: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    declared = _section(template, "Parameters")
    for name, declaration in declared.items():
        if not isinstance(declaration, dict):
            raise TemplateError(f"Parameters.{name}", "a parameter is a mapping with a Type")
    return declared


def _parameter_value(declaration: Mapping[str, Any], value: Any, path: str) -> Any:
    """A parameter value as CloudFormation passes it: text, or a list of text for lists."""
    kind = str(declaration.get("Type", "String"))
    if isinstance(value, list):
        items = [_text(item, path) for item in value]
    else:
        items = _text(value, path).split(",")
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    result: Any = [item.strip() for item in items] if is_list else ",".join(items)
    allowed = declaration.get("AllowedValues")
    if (
        isinstance(allowed, list)
        and not is_list
        and result not in [_text(a, path) for a in allowed]
    ):
        raise TemplateError(path, f"{result!r} is not one of the AllowedValues {allowed}")
    for item in result if is_list else [result]:
        problem = _constraint_problem(declaration, kind, item)
        if problem is not None:
            why = declaration.get("ConstraintDescription")
            raise TemplateError(path, f"{problem}{f' ({why})' if why else ''}")
    return result


def _constraint_problem(declaration: Mapping[str, Any], kind: str, value: str) -> str | None:
    """What CloudFormation refuses a parameter value for, before it creates anything: a
    Number that is no number or outside MinValue/MaxValue, a String outside MinLength/
    MaxLength or not wholly matching AllowedPattern (the parameters section of the
    CloudFormation user guide)."""
    if kind in ("Number", "List<Number>"):
        return _number_problem(declaration, value)
    low, high = declaration.get("MinLength"), declaration.get("MaxLength")
    if low is not None and len(value) < int(low):
        return f"{value!r} must contain at least {low} characters"
    if high is not None and len(value) > int(high):
        return f"{value!r} must contain at most {high} characters"
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return f"{value!r} must match pattern {pattern}"
    return None


def _number_problem(declaration: Mapping[str, Any], value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return f"{value!r} must be a number"
    low, high = declaration.get("MinValue"), declaration.get("MaxValue")
    if low is not None and number < float(low):
        return f"{value} must be a number not less than {low}"
    if high is not None and number > float(high):
        return f"{value} must be a number not greater than {high}"
    return None


def context_for(  # noqa: PLR0913 - each override is its own keyword
    template: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    exports: Mapping[str, Any] | None = None,
    region: str = LOCAL_REGION,
    account_id: str = LOCAL_ACCOUNT_ID,
    stack_name: str = LOCAL_STACK_NAME,
) -> Context:
    """A context for `template`: its defaults, as AWS would fill them, under the overrides.

    Raises `TemplateError` for an override of a parameter the template does not declare.
    """
    declared = _declared_parameters(template)
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if "Default" in declaration:
            values[name] = _parameter_value(
                declaration, declaration["Default"], f"Parameters.{name}"
            )
    for name, value in (parameters or {}).items():
        if name not in declared:
            raise TemplateError(f"Parameters.{name}", "the template declares no such parameter")
        values[name] = _parameter_value(declared[name], value, f"Parameters.{name}")
    physical = {logical_id: logical_id for logical_id in _resources(template)} | dict(
        resources or {}
    )
    context = Context(region=region, account_id=account_id, stack_name=stack_name)
    known = {
        f"{logical_id}.Arn": context.function_arn(str(physical[logical_id]))
        for logical_id, resource in _resources(template).items()
        if resource["Type"] in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION)
    } | {
        f"{logical_id}.Arn": context.role_arn(str(physical[logical_id]))
        for logical_id, resource in _resources(template).items()
        if resource["Type"] == IAM_ROLE
    }
    return Context(
        parameters=values,
        resources=physical,
        attributes=known | dict(attributes or {}),
        conditions=_section(template, "Conditions"),
        mappings=_section(template, "Mappings"),
        exports=dict(exports or {}),
        declared_parameters=frozenset(declared),
        region=region,
        account_id=account_id,
        stack_name=stack_name,
    )


# ---------------------------------------------------------------- resolving intrinsics


class _NoValue(Enum):
    """`!Ref AWS::NoValue`: the property or list item is removed."""

    NO_VALUE = "AWS::NoValue"


_NO_VALUE: Final = _NoValue.NO_VALUE
_MAX_CIDR_COUNT: Final = 256
_SUBSTITUTION: Final = re.compile(r"\$\{([^}]*)\}")


def _text(value: Any, path: str) -> str:
    """A scalar as the text CloudFormation makes of it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(path, f"expected text, found {_describe(value)}")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class _Resolver:
    """Resolves intrinsics against one context; remembers the conditions being evaluated."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.evaluating: list[str] = []

    def value(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((name, argument),) = value.items()
                intrinsic = _INTRINSICS.get(name)
                # An IAM-style `Condition:` block is a mapping; the intrinsic names a condition.
                if intrinsic is not None and (name != "Condition" or isinstance(argument, str)):
                    return intrinsic(self, argument, f"{path}.{name}")
                if name.startswith("Fn::"):
                    raise TemplateError(path, f"{name} is not supported locally")
            resolved = {key: self.value(item, f"{path}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        if isinstance(value, list):
            items = (self.value(item, f"{path}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not _NO_VALUE]
        return value

    def text(self, value: Any, path: str) -> str:
        return _text(self.value(value, path), path)

    def arguments(self, argument: Any, path: str, count: int) -> list[Any]:
        if not isinstance(argument, list) or len(argument) != count:
            raise TemplateError(path, f"expected a list of {count}, found {_describe(argument)}")
        return argument

    def truth(self, value: Any, path: str) -> bool:
        result = self.value(value, path)
        if not isinstance(result, bool):
            raise TemplateError(path, f"expected a condition, found {_describe(result)}")
        return result

    # -- Ref and Fn::GetAtt

    def ref(self, name: Any, path: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(path, f"Ref takes a name, found {_describe(name)}")
        if name == "AWS::NoValue":
            return _NO_VALUE
        context = self.context
        for values in (context.pseudo_parameters, context.parameters, context.resources):
            if name in values:
                return values[name]
        if name in context.declared_parameters:
            raise TemplateError(path, f"parameter {name} has no Default and no value was given")
        raise TemplateError(path, f"no parameter, pseudo parameter or resource is named {name}")

    def get_att(self, argument: Any, path: str) -> Any:
        logical_id, attribute = (
            self.text(part, f"{path}[{index}]")
            for index, part in enumerate(self.arguments(argument, path, 2))
        )
        return self.attribute(logical_id, attribute, path)

    def attribute(self, logical_id: str, attribute: str, path: str) -> Any:
        key = f"{logical_id}.{attribute}"
        if key in self.context.attributes:
            return self.context.attributes[key]
        if logical_id not in self.context.resources:
            raise TemplateError(path, f"no resource is named {logical_id}")
        raise TemplateError(path, f"no local value for {key}; the caller must give one")

    # -- text

    def sub(self, argument: Any, path: str) -> str:
        variables: dict[str, Any] = {}
        if isinstance(argument, list):
            text, given = self.arguments(argument, path, 2)
            if not isinstance(given, dict):
                raise TemplateError(f"{path}[1]", "Fn::Sub variables must be a mapping")
            variables = {
                name: self.value(item, f"{path}[1].{name}") for name, item in given.items()
            }
        else:
            text = argument
        if not isinstance(text, str):
            raise TemplateError(path, f"Fn::Sub takes text, found {_describe(text)}")

        def substitute(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is the escape for a literal ${Literal}
            if name in variables:
                return _text(variables[name], f"{path}.{name}")
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return _text(self.attribute(logical_id, attribute, path), path)
            return _text(self.ref(name, path), path)

        return _SUBSTITUTION.sub(substitute, text)

    def join(self, argument: Any, path: str) -> str:
        delimiter, items = self.arguments(argument, path, 2)
        values = self.value(items, f"{path}[1]")
        if not isinstance(values, list):
            raise TemplateError(path, f"Fn::Join needs a list, found {_describe(values)}")
        return _text(delimiter, path).join(_text(value, path) for value in values)

    def split(self, argument: Any, path: str) -> list[str]:
        delimiter, source = self.arguments(argument, path, 2)
        return self.text(source, f"{path}[1]").split(_text(delimiter, path))

    def select(self, argument: Any, path: str) -> Any:
        index, items = self.arguments(argument, path, 2)
        position = self.text(index, f"{path}[0]")
        values = self.value(items, f"{path}[1]")
        if not isinstance(values, list):
            raise TemplateError(path, f"Fn::Select needs a list, found {_describe(values)}")
        if not position.isdigit() or int(position) >= len(values):
            raise TemplateError(path, f"index {position} is outside a list of {len(values)}")
        return values[int(position)]

    def base64(self, argument: Any, path: str) -> str:
        return base64.b64encode(self.text(argument, path).encode("utf-8")).decode("ascii")

    # -- conditions

    def condition(self, name: Any, path: str) -> bool:
        if not isinstance(name, str) or name not in self.context.conditions:
            raise TemplateError(path, f"no condition is named {name!r}")
        if name in self.evaluating:
            cycle = " -> ".join([*self.evaluating, name])
            raise TemplateError(f"Conditions.{name}", f"conditions refer to each other: {cycle}")
        self.evaluating.append(name)
        try:
            return self.truth(self.context.conditions[name], f"Conditions.{name}")
        finally:
            self.evaluating.pop()

    def if_(self, argument: Any, path: str) -> Any:
        name, when_true, when_false = self.arguments(argument, path, 3)
        if self.condition(name, f"{path}[0]"):
            return self.value(when_true, f"{path}[1]")
        return self.value(when_false, f"{path}[2]")

    def equals(self, argument: Any, path: str) -> bool:
        left, right = (
            self.value(item, f"{path}[{index}]")
            for index, item in enumerate(self.arguments(argument, path, 2))
        )
        if isinstance(left, dict | list) or isinstance(right, dict | list):
            return bool(left == right)
        return _text(left, path) == _text(right, path)

    def not_(self, argument: Any, path: str) -> bool:
        (operand,) = self.arguments(argument, path, 1)
        return not self.truth(operand, f"{path}[0]")

    def operands(self, argument: Any, path: str) -> list[bool]:
        if not isinstance(argument, list) or not 2 <= len(argument) <= 10:  # noqa: PLR2004
            raise TemplateError(path, "expected a list of 2 to 10 conditions")
        return [self.truth(item, f"{path}[{index}]") for index, item in enumerate(argument)]

    def and_(self, argument: Any, path: str) -> bool:
        return all(self.operands(argument, path))

    def or_(self, argument: Any, path: str) -> bool:
        return any(self.operands(argument, path))

    # -- lookups

    def find_in_map(self, argument: Any, path: str) -> Any:
        keys = [
            self.text(item, f"{path}[{index}]")
            for index, item in enumerate(self.arguments(argument, path, 3))
        ]
        value: Any = self.context.mappings
        for depth, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                where = ".".join(keys[:depth]) or "Mappings"
                raise TemplateError(path, f"{where} has no key {key!r}")
            value = value[key]
        return value

    def import_value(self, argument: Any, path: str) -> Any:
        name = self.text(argument, path)
        if name not in self.context.exports:
            raise TemplateError(path, f"no local value for the export {name}; give it in exports")
        return self.context.exports[name]

    def get_azs(self, argument: Any, path: str) -> list[str]:
        region = self.text(argument, path) or self.context.region
        return [f"{region}{zone}" for zone in "abc"]

    def cidr(self, argument: Any, path: str) -> list[str]:
        block, count, bits = (
            self.text(item, f"{path}[{index}]")
            for index, item in enumerate(self.arguments(argument, path, 3))
        )
        problem = TemplateError(path, f"cannot cut {count} subnets of {bits} bits from {block}")
        if not (count.isdigit() and bits.isdigit() and 1 <= int(count) <= _MAX_CIDR_COUNT):
            raise problem
        try:
            network = ipaddress.ip_network(block)
            prefix = network.max_prefixlen - int(bits)
            subnets = list(itertools.islice(network.subnets(new_prefix=prefix), int(count)))
        except ValueError:
            raise problem from None
        if len(subnets) < int(count):
            raise problem
        return [str(subnet) for subnet in subnets]


_INTRINSICS: Final[dict[str, Callable[[_Resolver, Any, str], Any]]] = {
    "Ref": _Resolver.ref,
    "Condition": _Resolver.condition,
    "Fn::GetAtt": _Resolver.get_att,
    "Fn::Sub": _Resolver.sub,
    "Fn::Join": _Resolver.join,
    "Fn::Split": _Resolver.split,
    "Fn::Select": _Resolver.select,
    "Fn::Base64": _Resolver.base64,
    "Fn::If": _Resolver.if_,
    "Fn::Equals": _Resolver.equals,
    "Fn::Not": _Resolver.not_,
    "Fn::And": _Resolver.and_,
    "Fn::Or": _Resolver.or_,
    "Fn::FindInMap": _Resolver.find_in_map,
    "Fn::ImportValue": _Resolver.import_value,
    "Fn::GetAZs": _Resolver.get_azs,
    "Fn::Cidr": _Resolver.cidr,
}


def resolve(value: Any, context: Context, path: str = "value") -> Any:
    """`value` with every intrinsic function resolved against `context`.

    `path` names where the value sits, for errors. `!Ref AWS::NoValue` removes the key or
    item that holds it; at the top it resolves to None.
    """
    result = _Resolver(context).value(value, path)
    return None if result is _NO_VALUE else result


# ---------------------------------------------------------------- what the engine runs


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

    def rules_for(self, topic: str) -> tuple[TopicRule, ...]:
        """The enabled rules whose FROM filter a message on `topic` reaches."""
        return tuple(
            rule for rule in self.rules if rule.enabled and rule.query.matches_topic(topic)
        )


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(path, f"expected a mapping, found {_describe(value)}")
    return value


def _optional_text(resolver: _Resolver, value: Any, path: str) -> str | None:
    resolved = resolver.value(value, path)
    return None if resolved is None or resolved is _NO_VALUE else _text(resolved, path)


def _required_text(resolver: _Resolver, value: Any, path: str, what: str) -> str:
    text = _optional_text(resolver, value, path)
    if text is None:
        raise TemplateError(path, f"{what} is required")
    return text


def _whole_number(resolver: _Resolver, value: Any, path: str, default: int) -> int:
    text = _optional_text(resolver, value, path)
    if text is None:
        return default
    if not text.isdigit():
        raise TemplateError(path, f"expected a whole number, found {text!r}")
    return int(text)


def _flag(resolver: _Resolver, value: Any, path: str) -> bool:
    text = _optional_text(resolver, value, path)
    if text is None:
        return False
    if text.lower() not in ("true", "false"):
        raise TemplateError(path, f"expected true or false, found {text!r}")
    return text.lower() == "true"


def _parse_sql(resolver: _Resolver, value: Any, path: str) -> Rule:
    sql = _required_text(resolver, value, path, "Sql")
    try:
        return parse_rule(sql)
    except InvalidRuleError as error:
        raise TemplateError(path, str(error)) from None


class _Reader:
    def __init__(self, template: Mapping[str, Any], context: Context) -> None:
        self.resolver = _Resolver(context)
        self.resources = _resources(template)
        self.globals = _mapping(_section(template, "Globals").get("Function"), "Globals.Function")
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
            name: _text(value, f"{path}.{name}")
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
    declared = _declared_parameters(template)
    return {
        name: Parameter(
            name,
            str(declaration.get("Type", "String")),
            _parameter_value(declaration, declaration["Default"], f"Parameters.{name}")
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
