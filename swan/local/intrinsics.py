"""Intrinsic functions of a template, resolved against a `Context`: the ones
sam/template.yaml uses (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`) and the conditions
(`Condition`, `Fn::If`, `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`) that decide whether
a resource is created. Any other (`Fn::Cidr`, `Fn::GetAZs`, `Fn::ImportValue`,
`Fn::FindInMap`, ...) is refused with a `TemplateError` naming it and where it was: nothing
is guessed. No I/O: the template comes in as a plain mapping (swan.local.template).

A `Context` holds parameter values, the Ref value and attributes of each resource, and the
pseudo parameters of a local stack. `context_for` fills what AWS would: parameter defaults
(checked against the parameter's constraints as CloudFormation checks them), each resource's
logical id as its physical id, and for each Lambda function and each IAM role a local ARN as
its `Arn`; the caller overrides any of them (the local engine gives local endpoint URLs,
say). Anything else, e.g. `!GetAtt Table.Arn` without a value, raises `TemplateError`
naming where in the template it was, rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from swan.local.template import IAM_ROLE, LAMBDA_FUNCTION, SERVERLESS_FUNCTION, TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

LOCAL_REGION: Final = "us-east-1"
LOCAL_ACCOUNT_ID: Final = "000000000000"
LOCAL_STACK_NAME: Final = "swan-local"


@dataclass(frozen=True)
class Context:
    """What intrinsic functions resolve against. Build one with `context_for`.

    `resources` maps a logical id to its Ref value (its physical id); `attributes` maps
    `"LogicalId.Attribute"` to its Fn::GetAtt value; `conditions` is the template's
    Conditions section.
    """

    parameters: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
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


def section(template: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = template.get(name, {})
    if not isinstance(section, dict):
        raise TemplateError(name, "must be a mapping")
    return section


def resources_of(template: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    if "Resources" not in template:
        raise TemplateError("Resources", "a template needs a Resources section")
    resources = section(template, "Resources")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"Resources.{logical_id}", "a resource is a mapping with a Type")
    return resources


def declared_parameters(template: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    declared = section(template, "Parameters")
    for name, declaration in declared.items():
        if not isinstance(declaration, dict):
            raise TemplateError(f"Parameters.{name}", "a parameter is a mapping with a Type")
    return declared


def parameter_value(declaration: Mapping[str, Any], value: Any, path: str) -> Any:
    """A parameter value as CloudFormation passes it: text, or a list of text for lists."""
    kind = str(declaration.get("Type", "String"))
    if isinstance(value, list):
        items = [as_text(item, path) for item in value]
    else:
        items = as_text(value, path).split(",")
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    result: Any = [item.strip() for item in items] if is_list else ",".join(items)
    allowed = declaration.get("AllowedValues")
    if (
        isinstance(allowed, list)
        and not is_list
        and result not in [as_text(a, path) for a in allowed]
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


def context_for(
    template: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    region: str = LOCAL_REGION,
    account_id: str = LOCAL_ACCOUNT_ID,
    stack_name: str = LOCAL_STACK_NAME,
) -> Context:
    """A context for `template`: its defaults, as AWS would fill them, under the overrides.

    Raises `TemplateError` for an override of a parameter the template does not declare.
    """
    declared = declared_parameters(template)
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if "Default" in declaration:
            values[name] = parameter_value(
                declaration, declaration["Default"], f"Parameters.{name}"
            )
    for name, value in (parameters or {}).items():
        if name not in declared:
            raise TemplateError(f"Parameters.{name}", "the template declares no such parameter")
        values[name] = parameter_value(declared[name], value, f"Parameters.{name}")
    physical = {logical_id: logical_id for logical_id in resources_of(template)} | dict(
        resources or {}
    )
    context = Context(region=region, account_id=account_id, stack_name=stack_name)
    known = {
        f"{logical_id}.Arn": context.function_arn(str(physical[logical_id]))
        for logical_id, resource in resources_of(template).items()
        if resource["Type"] in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION)
    } | {
        f"{logical_id}.Arn": context.role_arn(str(physical[logical_id]))
        for logical_id, resource in resources_of(template).items()
        if resource["Type"] == IAM_ROLE
    }
    return Context(
        parameters=values,
        resources=physical,
        attributes=known | dict(attributes or {}),
        conditions=section(template, "Conditions"),
        declared_parameters=frozenset(declared),
        region=region,
        account_id=account_id,
        stack_name=stack_name,
    )


# ---------------------------------------------------------------- resolving intrinsics


class NoValue(Enum):
    """`!Ref AWS::NoValue`: the property or list item is removed."""

    NO_VALUE = "AWS::NoValue"


NO_VALUE: Final = NoValue.NO_VALUE
_SUBSTITUTION: Final = re.compile(r"\$\{([^}]*)\}")


def as_text(value: Any, path: str) -> str:
    """A scalar as the text CloudFormation makes of it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(path, f"expected text, found {describe(value)}")


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Resolver:
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
                    raise TemplateError(path, f"{name} is not supported locally ({_SUPPORTED})")
            resolved = {key: self.value(item, f"{path}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = (self.value(item, f"{path}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        return value

    def text(self, value: Any, path: str) -> str:
        return as_text(self.value(value, path), path)

    def arguments(self, argument: Any, path: str, count: int) -> list[Any]:
        if not isinstance(argument, list) or len(argument) != count:
            raise TemplateError(path, f"expected a list of {count}, found {describe(argument)}")
        return argument

    def truth(self, value: Any, path: str) -> bool:
        result = self.value(value, path)
        if not isinstance(result, bool):
            raise TemplateError(path, f"expected a condition, found {describe(result)}")
        return result

    # -- Ref and Fn::GetAtt

    def ref(self, name: Any, path: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(path, f"Ref takes a name, found {describe(name)}")
        if name == "AWS::NoValue":
            return NO_VALUE
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
            raise TemplateError(path, f"Fn::Sub takes text, found {describe(text)}")

        def substitute(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is the escape for a literal ${Literal}
            if name in variables:
                return as_text(variables[name], f"{path}.{name}")
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return as_text(self.attribute(logical_id, attribute, path), path)
            return as_text(self.ref(name, path), path)

        return _SUBSTITUTION.sub(substitute, text)

    def join(self, argument: Any, path: str) -> str:
        delimiter, items = self.arguments(argument, path, 2)
        values = self.value(items, f"{path}[1]")
        if not isinstance(values, list):
            raise TemplateError(path, f"Fn::Join needs a list, found {describe(values)}")
        return as_text(delimiter, path).join(as_text(value, path) for value in values)

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
        return as_text(left, path) == as_text(right, path)

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


_INTRINSICS: Final[dict[str, Callable[[Resolver, Any, str], Any]]] = {
    "Ref": Resolver.ref,
    "Condition": Resolver.condition,
    "Fn::GetAtt": Resolver.get_att,
    "Fn::Sub": Resolver.sub,
    "Fn::Join": Resolver.join,
    "Fn::If": Resolver.if_,
    "Fn::Equals": Resolver.equals,
    "Fn::Not": Resolver.not_,
    "Fn::And": Resolver.and_,
    "Fn::Or": Resolver.or_,
}


_SUPPORTED: Final = "it resolves " + ", ".join(sorted(_INTRINSICS))


def resolve(value: Any, context: Context, path: str = "value") -> Any:
    """`value` with every intrinsic function resolved against `context`.

    `path` names where the value sits, for errors. `!Ref AWS::NoValue` removes the key or
    item that holds it; at the top it resolves to None.
    """
    result = Resolver(context).value(value, path)
    return None if result is NO_VALUE else result
