"""The limits AWS documents for what the template creates, checked on the template as AWS
sees it: the one home of those limits for `swan deploy` and the tests.

`measure` renders the template (every `!Sub`, `!Ref` and `!GetAtt` resolved by
swan.local.template) for one stack name in the worst case the stack name does not decide: the
longest partition and region names in botocore's endpoints data and a 12-digit account. It
returns every name and IoT policy document the stack would create, each with the limit AWS
documents for it (the page is in `Limit.source`). `check_stack_name` refuses a stack name
that would break one, naming it and the longest stack name that fits: CloudFormation would
otherwise stop halfway and roll the whole stack back.

Names the template leaves to CloudFormation (IAM roles, topic rules) are measured as it makes
them, "a unique physical ID": the stack name, the logical id and a random suffix, cut to the
resource's limit, and for topic rules, which take no hyphen, without the separators
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html;
the exact form is not documented). SAM's logical ids for the role and topic rules it generates
are `<function>Role` and `<function><event>`
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-generated-resources-function.html).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import InvalidSettingError
from swan.core.names import MAX_THING_NAME, THING_NAME_CHARACTERS
from swan.local.core.policy_rules import MAX_DOCUMENT_CHARACTERS, document_size
from swan.local.intrinsics import context_for, resolve

if TYPE_CHECKING:
    from swan.local.intrinsics import Context

WORST_ACCOUNT: Final = "123456789012"  # every account id has 12 digits
_GENERATED_SUFFIX: Final = 13  # CloudFormation's random part, e.g. -1A2B3C4D5E6F7
_WHITESPACE: Final = re.compile(r"\s")


@dataclass(frozen=True)
class Limit:
    """A documented maximum length (and, where AWS gives one, the characters allowed)."""

    what: str
    maximum: int
    source: str
    pattern: str | None = None  # a regular expression the whole value must match


IOT_POLICY_DOCUMENT: Final = Limit(
    "AWS IoT policy document (characters, whitespace not counted)",
    MAX_DOCUMENT_CHARACTERS,  # the local control plane enforces the same constant
    "https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html",
)
IOT_POLICY_NAME: Final = Limit(
    "AWS IoT policy name",
    128,
    "https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html",
    r"[\w+=,.@-]+",
)
IOT_THING_NAME: Final = Limit(  # swan.core.names has the rule's home
    "AWS IoT thing name",
    MAX_THING_NAME,
    "https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html",
    rf"{THING_NAME_CHARACTERS}+",
)
TOPIC_RULE_NAME: Final = Limit(
    "AWS IoT topic rule name",
    128,
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iot-topicrule.html",
    r"[a-zA-Z0-9_]+",
)
FUNCTION_NAME: Final = Limit(
    "Lambda function name",
    64,
    "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    r"[a-zA-Z0-9_-]+",
)
LAYER_NAME: Final = Limit(
    "Lambda layer name",
    140,
    "https://docs.aws.amazon.com/lambda/latest/api/API_PublishLayerVersion.html",
    r"[a-zA-Z0-9_-]+",
)
LOG_GROUP_NAME: Final = Limit(
    "CloudWatch Logs log group name",
    512,
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    r"[.\-_/#A-Za-z0-9]+",
)
SCHEDULE_GROUP_NAME: Final = Limit(
    "EventBridge Scheduler schedule group name",
    64,
    "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateScheduleGroup.html",
    r"[0-9a-zA-Z._-]+",
)
SCHEDULE_NAME: Final = Limit(
    "EventBridge Scheduler schedule name",
    64,
    "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html",
    r"[0-9a-zA-Z._-]+",
)
ROLE_NAME: Final = Limit(
    "IAM role name",
    64,
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
    r"[\w+=,.@-]+",
)
ROLE_POLICIES: Final = Limit(
    "IAM role's inline policies together (characters, whitespace not counted)",
    10240,
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
)
QUEUE_NAME: Final = Limit(
    "SQS queue name",
    80,
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    r"[a-zA-Z0-9_-]+",
)
TABLE_NAME: Final = Limit(
    "DynamoDB table name",
    255,
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html",
    r"[a-zA-Z0-9_.-]+",
)
IDENTITY_POOL_NAME: Final = Limit(
    "Cognito identity pool name",
    128,
    "https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_CreateIdentityPool.html",
    r"[\w\s+=,.@-]+",
)
ORIGIN_ACCESS_CONTROL_NAME: Final = Limit(
    "CloudFront origin access control name",
    64,
    "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_OriginAccessControlConfig.html",
)
DISTRIBUTION_COMMENT: Final = Limit(
    "CloudFront distribution comment",
    128,
    "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html",
)
STACK_NAME: Final = Limit(
    "CloudFormation stack name",
    128,
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html",
    r"[a-zA-Z][-a-zA-Z0-9]*",
)

# The name property of each resource type, and its limit; a resource without one gets a
# name CloudFormation generates.
NAMES: Final[Mapping[str, tuple[str, Limit]]] = {
    "AWS::IoT::Policy": ("PolicyName", IOT_POLICY_NAME),
    "AWS::IoT::Thing": ("ThingName", IOT_THING_NAME),
    "AWS::IoT::TopicRule": ("RuleName", TOPIC_RULE_NAME),
    "AWS::Serverless::Function": ("FunctionName", FUNCTION_NAME),
    "AWS::Lambda::Function": ("FunctionName", FUNCTION_NAME),
    "AWS::Serverless::LayerVersion": ("LayerName", LAYER_NAME),
    "AWS::Lambda::LayerVersion": ("LayerName", LAYER_NAME),
    "AWS::Logs::LogGroup": ("LogGroupName", LOG_GROUP_NAME),
    "AWS::Scheduler::ScheduleGroup": ("Name", SCHEDULE_GROUP_NAME),
    "AWS::IAM::Role": ("RoleName", ROLE_NAME),
    "AWS::SQS::Queue": ("QueueName", QUEUE_NAME),
    "AWS::DynamoDB::Table": ("TableName", TABLE_NAME),
    "AWS::Cognito::IdentityPool": ("IdentityPoolName", IDENTITY_POOL_NAME),
}
_FUNCTIONS: Final = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_SCHEDULE_ARN: Final = re.compile(r"arn:[^:]+:scheduler:[^:]*:[^:]*:schedule/([^/]+)/([^/]+)")


@dataclass(frozen=True)
class Measure:
    """One name or document the stack would create, and its limit."""

    where: str  # the template path it comes from
    value: str
    length: int
    limit: Limit

    @property
    def fits(self) -> bool:
        pattern = self.limit.pattern
        matches = pattern is None or re.fullmatch(pattern, self.value) is not None
        return self.length <= self.limit.maximum and matches

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 80 else f"{self.value[:77]}..."  # noqa: PLR2004
        return (
            f"{self.where}: {self.limit.what} {shown!r} is {self.length} characters;"
            f" AWS allows {self.limit.maximum}"
            + (f" of [{self.limit.pattern}]" if self.limit.pattern else "")
        )


class StackNameTooLongError(InvalidSettingError):
    """A stack name that would make the stack break a limit AWS documents."""

    def __init__(self, stack_name: str, breach: Measure, longest: int) -> None:
        self.breach = breach
        self.longest = longest
        super().__init__(
            "--stack-name",
            stack_name,
            f"it would make {breach.limit.what} {breach.value!r} {breach.length} characters"
            f" (AWS allows {breach.limit.maximum}); this template takes stack names of at most"
            f" {longest} characters",
        )


@cache
def worst_case() -> tuple[str, str]:
    """The longest partition name and the longest region name in botocore's endpoints data
    (today aws-us-gov and us-isof-south-1)."""
    from botocore.loaders import create_loader  # noqa: PLC0415  (deploy-time only)

    partitions = create_loader().load_data("endpoints")["partitions"]
    partition = max((p["partition"] for p in partitions), key=len)
    region = max((r for p in partitions for r in p["regions"]), key=len)
    return partition, region


def render_context(
    template: Mapping[str, Any],
    stack_name: str,
    *,
    partition: str,
    region: str,
    account_id: str = WORST_ACCOUNT,
    parameters: Mapping[str, Any] | None = None,
) -> Context:
    """A context that resolves `template` as CloudFormation would in that stack: each
    resource's Ref is its name (given or generated), each Arn one of its full length."""
    given = {"DeviceCaCertificateId": "f" * 64} | dict(parameters or {})
    draft = replace(
        context_for(
            template, parameters=given, region=region, account_id=account_id, stack_name=stack_name
        ),
        partition=partition,
    )
    names = {
        logical_id: _name(logical_id, resource, draft)
        for logical_id, resource in _resources(template)
    }
    physical = {logical_id: name.value for logical_id, name in names.items()}
    arns = _Arns(
        draft,
        {logical_id: resource["Type"] for logical_id, resource in _resources(template)},
        physical,
    )
    return replace(draft, resources=physical, attributes=arns)


def measure(
    template: Mapping[str, Any],
    stack_name: str,
    *,
    partition: str | None = None,
    region: str | None = None,
    account_id: str = WORST_ACCOUNT,
) -> list[Measure]:
    """Every name and IoT policy document the stack would create, with its limit."""
    if partition is None or region is None:
        partition, region = worst_case()
    context = render_context(
        template, stack_name, partition=partition, region=region, account_id=account_id
    )
    found = [Measure("stack name", stack_name, len(stack_name), STACK_NAME)]
    for logical_id, resource in _resources(template):
        if resource["Type"] in NAMES:
            found.append(_name(logical_id, resource, context))
        found += _more(logical_id, resource, context)
    return found


def breaches(template: Mapping[str, Any], stack_name: str, **where: str) -> list[Measure]:
    """What the stack would break; empty if AWS would take every name and document."""
    return [found for found in measure(template, stack_name, **where) if not found.fits]


def longest_stack_name(template: Mapping[str, Any]) -> int:
    """The longest stack name (of the letter a) the template takes in the worst case."""
    low, high = 0, STACK_NAME.maximum
    while low < high:
        middle = (low + high + 1) // 2
        if breaches(template, "a" * middle):
            high = middle - 1
        else:
            low = middle
    return low


def check_stack_name(template: Mapping[str, Any], stack_name: str) -> None:
    """Raise `StackNameTooLongError` if `stack_name` would make the stack break a limit."""
    broken = breaches(template, stack_name)
    if broken:
        raise StackNameTooLongError(stack_name, broken[0], longest_stack_name(template))


# ---------------------------------------------------------------- what is measured


def _resources(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield from template["Resources"].items()


def _name(logical_id: str, resource: Mapping[str, Any], context: Context) -> Measure:
    """The resource's name: its name property, resolved, or the one CloudFormation makes."""
    kind = resource["Type"]
    if kind not in NAMES:  # only a Ref: no limit of its own is measured
        generated = _generated(context.stack_name, logical_id, _ANY_NAME)
        return Measure(f"Resources.{logical_id}", generated, len(generated), _ANY_NAME)
    name_property, limit = NAMES[kind]
    path = f"Resources.{logical_id}.Properties.{name_property}"
    given = resource.get("Properties", {}).get(name_property)
    if given is None:
        value = _generated(context.stack_name, logical_id, limit)
        return Measure(f"{path} (generated)", value, len(value), limit)
    value = str(resolve(given, context, path))
    return Measure(path, value, len(value), limit)


_ANY_NAME: Final = Limit("name", 255, "")


def _generated(stack_name: str, logical_id: str, limit: Limit) -> str:
    """A name as CloudFormation makes one: stack, logical id, random suffix, cut to fit."""
    separator = "" if limit is TOPIC_RULE_NAME else "-"
    if limit is TOPIC_RULE_NAME:
        stack_name = re.sub(r"[^A-Za-z0-9_]", "", stack_name)
    suffix = separator + "X" * _GENERATED_SUFFIX
    room = limit.maximum - len(suffix) - len(separator)
    stack = stack_name[: max(room // 2, room - len(logical_id))]
    return f"{stack}{separator}{logical_id}"[: limit.maximum - len(suffix)] + suffix


def _more(logical_id: str, resource: Mapping[str, Any], context: Context) -> list[Measure]:
    kind = resource["Type"]
    properties = resource.get("Properties", {})
    path = f"Resources.{logical_id}.Properties"
    found: list[Measure] = []
    if kind == "AWS::IoT::Policy":
        document = resolve(properties["PolicyDocument"], context, f"{path}.PolicyDocument")
        found.append(_document(f"{path}.PolicyDocument", document, IOT_POLICY_DOCUMENT))
    if kind == "AWS::IAM::Role":
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        found.append(_role_policies(f"{path}.Policies", documents, context))
        found += _schedules(f"{path}.Policies", documents, context)
    if kind in _FUNCTIONS:
        found += _function(logical_id, properties, context)
    if kind == "AWS::CloudFront::OriginAccessControl":
        name = resolve(properties["OriginAccessControlConfig"]["Name"], context, path)
        found.append(
            Measure(
                f"{path}.OriginAccessControlConfig.Name",
                name,
                len(name),
                ORIGIN_ACCESS_CONTROL_NAME,
            )
        )
    if kind == "AWS::CloudFront::Distribution":
        comment = resolve(properties["DistributionConfig"].get("Comment", ""), context, path)
        found.append(
            Measure(
                f"{path}.DistributionConfig.Comment", comment, len(comment), DISTRIBUTION_COMMENT
            )
        )
    return found


def _function(logical_id: str, properties: Mapping[str, Any], context: Context) -> list[Measure]:
    """What SAM makes of a function: its role (generated name, inline policies), the topic
    rules of its IoTRule events, and the schedules its policies name."""
    path = f"Resources.{logical_id}.Properties"
    found: list[Measure] = []
    if "Role" not in properties:
        role = f"{logical_id}Role"
        name = _generated(context.stack_name, role, ROLE_NAME)
        found.append(Measure(f"{path} (SAM's {role}, name generated)", name, len(name), ROLE_NAME))
        documents = [p for p in properties.get("Policies", []) if isinstance(p, dict)]
        found.append(_role_policies(f"{path}.Policies", documents, context))
        found += _schedules(f"{path}.Policies", documents, context)
    for event, declaration in properties.get("Events", {}).items():
        if declaration.get("Type") == "IoTRule":
            rule = _generated(context.stack_name, f"{logical_id}{event}", TOPIC_RULE_NAME)
            where = f"{path}.Events.{event} (SAM's {logical_id}{event}, name generated)"
            found.append(Measure(where, rule, len(rule), TOPIC_RULE_NAME))
    return found


def _document(where: str, document: Any, limit: Limit) -> Measure:
    text = json.dumps(document)  # the control plane's count: whitespace not counted
    return Measure(where, _WHITESPACE.sub("", text), document_size(text), limit)


def _role_policies(where: str, documents: list[Any], context: Context) -> Measure:
    resolved = [resolve(document, context, where) for document in documents]
    text = _WHITESPACE.sub("", "".join(json.dumps(document) for document in resolved))
    return Measure(where, text, len(text), ROLE_POLICIES)


def _schedules(where: str, documents: list[Any], context: Context) -> list[Measure]:
    """The schedules a policy lets its holder create: the names the handlers give them."""
    found = []
    for document in documents:
        for statement in resolve(document, context, where).get("Statement", []):
            resources = statement.get("Resource", [])
            for resource in [resources] if isinstance(resources, str) else resources:
                named = _SCHEDULE_ARN.fullmatch(resource)
                if named:
                    found.append(
                        Measure(f"{where} {resource}", named[2], len(named[2]), SCHEDULE_NAME)
                    )
    return found


class _Arns(Mapping[str, str]):
    """`Fn::GetAtt X.Arn` for every resource, as long as AWS would make it."""

    _SHAPES: Final = {
        "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}",
        "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
        "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}",
        "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
        "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
        "AWS::S3::Bucket": "arn:{p}:s3:::{n}",
    }

    def __init__(
        self, context: Context, kinds: Mapping[str, str], names: Mapping[str, str]
    ) -> None:
        self._context = context
        self._kinds = kinds
        self._names = names

    def __getitem__(self, key: str) -> str:
        logical_id, _, attribute = key.partition(".")
        if attribute != "Arn" or logical_id not in self._kinds:
            raise KeyError(key)
        shape = self._SHAPES.get(self._kinds[logical_id], "arn:{p}:x:{r}:{a}:{n}")
        context = self._context
        return shape.format(
            p=context.partition, r=context.region, a=context.account_id, n=self._names[logical_id]
        )

    def __iter__(self) -> Iterator[str]:
        return (f"{logical_id}.Arn" for logical_id in self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)
