"""The SAM template as a document: its YAML read into a plain mapping, and the error that
names where in it something is wrong.

`load_template` is the only I/O: it reads the YAML file. Every CloudFormation short form
(`!Ref`, `!Sub`, ...) becomes its long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`), including
the ones the stand-in does not resolve (swan.local.intrinsics names those when it meets
them). What the mapping means is read elsewhere: intrinsics by swan.local.intrinsics, the
functions, rules and policies the stack runs by swan.local.deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import yaml

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# The resource types the stand-in reads.
SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
LAMBDA_FUNCTION: Final = "AWS::Lambda::Function"
TOPIC_RULE: Final = "AWS::IoT::TopicRule"
IOT_POLICY: Final = "AWS::IoT::Policy"
IAM_ROLE: Final = "AWS::IAM::Role"


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
