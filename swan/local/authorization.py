"""Each caller's calls to the local AWS APIs, authorized as IAM would authorize them.

Three pieces, which `swan.local.signed.require_signature` puts after the signature check:
- `role_statements`: each role's identity statements, from the SAM functions' inline
  `Policies` and each `AWS::IAM::Role`'s inline `Policies` in the template, resolved against
  the deployment's context.
- `operation`: what one HTTP request to the iot-data, iot or scheduler API asks IAM for:
  the action, the resource ARN(s) the Service Authorization Reference names for it, and
  the condition keys the request carries (Actions, resources, and condition keys for
  AWS IoT: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html;
  for EventBridge Scheduler:
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html).
  A schedule with a `Target.RoleArn` also needs `iam:PassRole` on that role with
  `iam:PassedToService` = `scheduler.amazonaws.com` ("Grant a user permissions to pass a
  role": https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
  A named shadow's resource is `thing/<thing>/<shadow>` (AWS IoT Core action resources:
  https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).
- `authorize`: the decision, and AWS's refusal: 403 `AccessDeniedException` ("User: <arn>
  is not authorized to perform: <action> on resource: <arn> because no identity-based
  policy allows the <action> action", or "... with an explicit deny in an identity-based
  policy": https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html);
  iot-data's model has no such error and answers its 403, `ForbiddenException`.
  The stack's administrator may do everything.

And one for the roles AWS services assume on the stack's behalf (`ServiceRoles`, from
`service_roles`): the rules engine's Republish actions and the scheduler's targets run only
when the service may assume the role (its trust policy, `trust_documents`) and the role
allows the call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from swan.adapters.private_files import write_private
from swan.core.errors import SwanError
from swan.local.core.iam import IamStatement, evaluate, parse_statements
from swan.local.core.policy import POLICY_VERSION, Decision, Effect, PolicyDocumentError
from swan.local.core.trust import TrustStatement, parse_trust_policy, trust_decision
from swan.local.credentials import ACCOUNT_ID, ADMIN_USER, function_roles
from swan.local.intrinsics import LOCAL_REGION, Context, resolve
from swan.local.template import IAM_ROLE, TemplateError

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

ADMIN_ARN: Final = f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER}"
SCHEDULER_SERVICE: Final = "scheduler.amazonaws.com"
IOT_SERVICE: Final = "iot.amazonaws.com"
ASSUME_ROLE: Final = "sts:AssumeRole"
SOURCE_ACCOUNT: Final = "aws:SourceAccount"
SOURCE_ARN: Final = "aws:SourceArn"
PASSED_TO_SERVICE: Final = "iam:PassedToService"
DEFAULT_SCHEDULE_GROUP: Final = "default"
_ERROR_TYPES: Final = {"iot-data": "ForbiddenException"}
_ACCESS_DENIED: Final = "AccessDeniedException"
ROLE_POLICIES_FILE: Final = "role-policies.json"

StatementsByRole = Mapping[str, tuple[IamStatement, ...]]


class RolePolicyError(SwanError, ValueError):
    """A function's `Policies` holds something the local stack cannot evaluate."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"cannot authorize with {where}: {problem}")


class AccessDeniedError(SwanError, PermissionError):
    """IAM refused the call: `status` and `error_type` are the API's answer."""

    def __init__(self, api: str, principal_arn: str, check: Check, decision: Decision) -> None:
        self.api = api
        self.principal_arn = principal_arn
        self.action = check.action
        self.resource = check.resource
        self.status = 403
        self.error_type = _ERROR_TYPES.get(api, _ACCESS_DENIED)
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision is Decision.DENY
            else f"because no identity-based policy allows the {check.action} action"
        )
        self.message = (
            f"User: {principal_arn} is not authorized to perform: {check.action}"
            f" on resource: {check.resource} {reason}"
        )
        super().__init__(self.message)


# ---------------------------------------------------------------- the roles


def role_statements(
    template: Mapping[str, Any], context: Context
) -> dict[str, tuple[IamStatement, ...]]:
    """Each function role's statements, by the role's logical id (see `role_documents`)."""
    return statements_of(role_documents(template, context))


def role_documents(template: Mapping[str, Any], context: Context) -> dict[str, dict[str, Any]]:
    """Each role's identity policy, resolved, by the role's logical id: one document
    (`Version`, `Statement`) holding the statements of all its inline policies. The roles
    are the functions' (their SAM `Policies`) and every `AWS::IAM::Role` resource (its
    `Policies`, each a `PolicyName` and a `PolicyDocument`): those AWS services assume for
    the stack (a topic rule's, the scheduler's) and the Cognito identities' role.

    Only inline documents are read; a SAM policy template or a managed policy is refused
    (`RolePolicyError`) rather than ignored. An Allow statement naming a resource the local
    stack does not have (no local value for it) is left out, with a log line naming it: it
    can only allow calls on that resource, and none can be made here. A Deny that cannot be
    resolved is refused. Every statement is checked as IAM would check it, so a bad one
    stops the stack here.
    """
    resources = template.get("Resources", {})
    found: dict[str, list[Any]] = {}
    for function, role in function_roles(template).items():
        policies = (resources[function].get("Properties") or {}).get("Policies", [])
        documents = policies if isinstance(policies, list) else [policies]
        statements = found.setdefault(role, [])
        for index, document in enumerate(documents):
            where = f"Resources.{function}.Properties.Policies[{index}]"
            if not isinstance(document, dict) or "Statement" not in document:
                raise RolePolicyError(where, "only inline policy documents are evaluated")
            statements.extend(_resolved_statements(document, context, where))
    for role, properties in _iam_roles(template).items():
        statements = found.setdefault(role, [])
        where = f"Resources.{role}.Properties"
        if properties.get("ManagedPolicyArns"):
            raise RolePolicyError(
                f"{where}.ManagedPolicyArns", "only inline policies are evaluated"
            )
        policies = properties.get("Policies") or []
        for index, policy in enumerate(policies if isinstance(policies, list) else [policies]):
            path = f"{where}.Policies[{index}]"
            document = policy.get("PolicyDocument") if isinstance(policy, dict) else None
            if not isinstance(document, dict) or "Statement" not in document:
                raise RolePolicyError(path, "an inline policy is a PolicyName and a PolicyDocument")
            statements.extend(_resolved_statements(document, context, f"{path}.PolicyDocument"))
    documents_by_role = {
        role: {"Version": POLICY_VERSION, "Statement": statements}
        for role, statements in found.items()
    }
    statements_of(documents_by_role)
    return documents_by_role


def statements_of(documents: Mapping[str, Any]) -> dict[str, tuple[IamStatement, ...]]:
    """The statements of each role's document (as `role_documents` gives them)."""
    return {
        role: tuple(parse_statements(document)) if document["Statement"] else ()
        for role, document in documents.items()
    }


def _iam_roles(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The `Properties` of each `AWS::IAM::Role` resource, by logical id."""
    return {
        logical_id: resource.get("Properties") or {}
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") == IAM_ROLE
    }


def _resolved_statements(document: Mapping[str, Any], context: Context, where: str) -> list[Any]:
    raw = document["Statement"]
    kept = []
    for index, statement in enumerate(raw if isinstance(raw, list) else [raw]):
        path = f"{where}.Statement[{index}]"
        try:
            kept.append(resolve(statement, context, path))
        except TemplateError as error:
            if not isinstance(statement, dict) or statement.get("Effect") != Effect.ALLOW:
                raise
            # Visible: a dropped Allow once hid a real bug (a resource that should resolve).
            sid = statement.get("Sid")
            log.info(
                "%s%s: Allow left out, nothing local is named by it (%s)",
                path,
                f" ({sid})" if isinstance(sid, str) else "",
                error.problem,
            )
    if kept:
        parse_statements({**document, "Statement": kept})  # each document's own errors
    return kept


def write_role_policies(state_dir: Path, documents: Mapping[str, Any]) -> Path:
    """Record the roles' resolved policies for the stack's other processes (the data plane
    authorizes in a process of its own): `<state>/role-policies.json`, private."""
    path = state_dir / ROLE_POLICIES_FILE
    write_private(path, json.dumps(documents, indent=2, sort_keys=True) + "\n")
    return path


def read_role_policies(state_dir: Path) -> dict[str, tuple[IamStatement, ...]]:
    """The roles' statements `write_role_policies` recorded; none when nothing is recorded,
    so that every role's call is refused rather than any allowed."""
    path = state_dir / ROLE_POLICIES_FILE
    try:
        documents = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise RolePolicyError(str(path), f"not JSON: {error}") from None
    return statements_of(documents)


# ---------------------------------------------------------------- the requests


@dataclass(frozen=True)
class Check:
    """One question for IAM: may the caller do `action` on `resource`, given `context`?"""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Arns:
    region: str = LOCAL_REGION
    account: str = ACCOUNT_ID
    partition: str = "aws"

    def iot(self, resource: str) -> str:
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{resource}"

    def scheduler(self, resource: str) -> str:
        return f"arn:{self.partition}:scheduler:{self.region}:{self.account}:{resource}"


def operation(
    api: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    headers: Mapping[str, str] | None = None,
    arns: Arns = Arns(),
) -> tuple[Check, ...] | None:
    """The checks IAM makes for this request (`path` percent-encoded as sent, `query`
    decoded, `headers` with lower-case names); None when no operation of `api` is there."""
    segments = [unquote(segment) for segment in path.split("/")[1:]]
    if api == "iot-data":
        return _iot_data(method, path, segments, query, arns)
    if api == "scheduler":
        return _scheduler(method, segments, query, body, arns)
    if api == "iot":
        return _iot(method, segments, body, headers or {}, arns)
    return None


_SHADOW_ACTIONS: Final = {
    "GET": "iot:GetThingShadow",
    "POST": "iot:UpdateThingShadow",
    "DELETE": "iot:DeleteThingShadow",
}


def _iot_data(
    method: str, path: str, segments: list[str], query: Mapping[str, str], arns: Arns
) -> tuple[Check, ...] | None:
    match segments:
        case ["things", thing, "shadow"] if method in _SHADOW_ACTIONS:
            shadow = query.get("name")
            resource = f"thing/{thing}" + (f"/{shadow}" if shadow else "")
            return (Check(_SHADOW_ACTIONS[method], arns.iot(resource)),)
        case ["api", "things", "shadow", "ListNamedShadowsForThing", thing] if method == "GET":
            return (Check("iot:ListNamedShadowsForThing", arns.iot(f"thing/{thing}")),)
        case ["topics", _, *_] if method == "POST":
            topic = unquote(path.removeprefix("/topics/"))
            return (Check("iot:Publish", arns.iot(f"topic/{topic}")),)
    return None


_SCHEDULE_ACTIONS: Final = {
    "POST": "scheduler:CreateSchedule",
    "PUT": "scheduler:UpdateSchedule",
    "GET": "scheduler:GetSchedule",
    "DELETE": "scheduler:DeleteSchedule",
}


def _scheduler(
    method: str, segments: list[str], query: Mapping[str, str], body: bytes, arns: Arns
) -> tuple[Check, ...] | None:
    match segments:
        case ["schedules", name] if method in _SCHEDULE_ACTIONS:
            # Create and Update name the group in the body; Get and Delete in the query.
            writes = method in ("POST", "PUT")
            named = _json(body).get("GroupName") if writes else query.get("groupName")
            group = named if isinstance(named, str) and named else DEFAULT_SCHEDULE_GROUP
            schedule = Check(_SCHEDULE_ACTIONS[method], arns.scheduler(f"schedule/{group}/{name}"))
            role = _target_role(body) if writes else None
            if role is None:
                return (schedule,)
            return (schedule, Check("iam:PassRole", role, {PASSED_TO_SERVICE: SCHEDULER_SERVICE}))
    return None


def _target_role(body: bytes) -> str | None:
    document = _json(body)
    target = document.get("Target")
    role = target.get("RoleArn") if isinstance(target, dict) else None
    return role if isinstance(role, str) and role else None


def _json(body: bytes) -> dict[str, Any]:
    """The body's JSON object; {} when it is none (the API itself refuses a bad body)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


# Each route of swan.local.controlplane, its action and the resource types the Service
# Authorization Reference lists for it ("*" where it lists none).
_IOT_ROUTES: Final[dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]] = {
    ("POST", ("cacertificate",)): ("iot:RegisterCACertificate", ()),
    ("GET", ("cacertificate", "{}")): ("iot:DescribeCACertificate", ("cacert/{0}",)),
    ("PUT", ("cacertificate", "{}")): ("iot:UpdateCACertificate", ("cacert/{0}",)),
    ("GET", ("cacertificates",)): ("iot:ListCACertificates", ()),
    ("GET", ("registrationcode",)): ("iot:GetRegistrationCode", ()),
    ("GET", ("certificates", "{}")): ("iot:DescribeCertificate", ("cert/{0}",)),
    ("PUT", ("certificates", "{}")): ("iot:UpdateCertificate", ("cert/{0}",)),
    ("GET", ("certificates",)): ("iot:ListCertificates", ()),
    ("GET", ("certificates-by-ca", "{}")): ("iot:ListCertificatesByCA", ()),
    ("POST", ("certificate", "register")): ("iot:RegisterCertificate", ()),
    ("POST", ("things", "{}")): ("iot:CreateThing", ("thing/{0}",)),
    ("GET", ("things", "{}")): ("iot:DescribeThing", ("thing/{0}",)),
    ("DELETE", ("things", "{}")): ("iot:DeleteThing", ("thing/{0}",)),
    ("GET", ("things",)): ("iot:ListThings", ()),
    ("PUT", ("things", "{}", "principals")): (
        "iot:AttachThingPrincipal",
        ("{principal}", "thing/{0}"),
    ),
    ("DELETE", ("things", "{}", "principals")): (
        "iot:DetachThingPrincipal",
        ("{principal}", "thing/{0}"),
    ),
    ("GET", ("things", "{}", "principals")): ("iot:ListThingPrincipals", ("thing/{0}",)),
    ("GET", ("principals", "things")): ("iot:ListPrincipalThings", ()),
    ("GET", ("policies",)): ("iot:ListPolicies", ()),
    ("POST", ("policies", "{}")): ("iot:CreatePolicy", ("policy/{0}",)),
    ("GET", ("policies", "{}")): ("iot:GetPolicy", ("policy/{0}",)),
    ("DELETE", ("policies", "{}")): ("iot:DeletePolicy", ("policy/{0}",)),
    ("POST", ("policies", "{}", "version")): ("iot:CreatePolicyVersion", ("policy/{0}",)),
    ("GET", ("policies", "{}", "version")): ("iot:ListPolicyVersions", ("policy/{0}",)),
    ("GET", ("policies", "{}", "version", "{}")): ("iot:GetPolicyVersion", ("policy/{0}",)),
    ("PATCH", ("policies", "{}", "version", "{}")): (
        "iot:SetDefaultPolicyVersion",
        ("policy/{0}",),
    ),
    ("DELETE", ("policies", "{}", "version", "{}")): (
        "iot:DeletePolicyVersion",
        ("policy/{0}",),
    ),
    ("PUT", ("target-policies", "{}")): ("iot:AttachPolicy", ("{target}", "policy/{0}")),
    ("POST", ("target-policies", "{}")): ("iot:DetachPolicy", ("{target}", "policy/{0}")),
    ("POST", ("attached-policies", "{}")): ("iot:ListAttachedPolicies", ("{0}",)),
    ("GET", ("endpoint",)): ("iot:DescribeEndpoint", ()),
}


def _iot(
    method: str,
    segments: list[str],
    body: bytes,
    headers: Mapping[str, str],
    arns: Arns,
) -> tuple[Check, ...] | None:
    for (route_method, shape), (action, resources) in _IOT_ROUTES.items():
        if route_method != method or len(shape) != len(segments):
            continue
        values = [s for s, part in zip(segments, shape, strict=True) if part == "{}"]
        if any(p not in ("{}", s) for s, p in zip(segments, shape, strict=True)):
            continue
        named = {
            "principal": headers.get("x-amzn-principal", ""),
            "target": str(_json(body).get("target", "")),
        }
        arns_named = tuple(
            _resource_arn(resource, values, named, arns) for resource in resources
        ) or ("*",)
        return tuple(Check(action, resource) for resource in arns_named)
    return None


def _resource_arn(resource: str, values: list[str], named: Mapping[str, str], arns: Arns) -> str:
    """`{0}`-style pieces are path values; `{principal}`/`{target}` are ARNs as given."""
    if resource in ("{principal}", "{target}"):
        return named[resource.strip("{}")] or "*"
    filled = resource.format(*values)
    return filled if filled.startswith("arn:") else arns.iot(filled)


# ---------------------------------------------------------------- the services' roles


def trust_documents(template: Mapping[str, Any], context: Context) -> dict[str, dict[str, Any]]:
    """Each `AWS::IAM::Role`'s trust policy (its `AssumeRolePolicyDocument`: who may assume
    it), resolved, by the role's logical id."""
    found = {}
    for role, properties in _iam_roles(template).items():
        path = f"Resources.{role}.Properties.AssumeRolePolicyDocument"
        document = resolve(properties.get("AssumeRolePolicyDocument"), context, path)
        if not isinstance(document, dict) or "Statement" not in document:
            raise RolePolicyError(path, "a role needs a trust policy document")
        found[role] = document
    return found


class ServiceRoleError(SwanError, PermissionError):
    """An AWS service could not act with a role: it may not assume it (`assumed` False: no
    such role, or its trust policy does not let the service assume it), or the role does
    not allow the call."""

    def __init__(
        self, service: str, role_arn: str, check: Check, reason: str, *, assumed: bool
    ) -> None:
        self.service = service
        self.role_arn = role_arn
        self.action = check.action
        self.resource = check.resource
        self.reason = reason
        self.assumed = assumed
        super().__init__(reason)


@dataclass(frozen=True)
class ServiceRole:
    name: str
    arn: str
    statements: tuple[IamStatement, ...]
    trust: tuple[TrustStatement, ...]


@dataclass(frozen=True)
class ServiceRoles:
    """The template's roles, by ARN, as the AWS services that assume them see them.

    A service acting for the stack (AWS IoT for a rule action, EventBridge Scheduler for a
    schedule's target) first assumes the role the resource names: IAM evaluates the role's
    trust policy with the service as the principal, `sts:AssumeRole` as the action and the
    confused-deputy keys `aws:SourceAccount` (the stack's account) and `aws:SourceArn` (the
    rule, or the schedule group) in the request context ("Cross-service confused deputy
    prevention": https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html; for
    a rule, "Granting an AWS IoT rule the access it requires":
    https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html). Then the
    call is authorized against the role's identity statements, as any caller's is.
    """

    roles: Mapping[str, ServiceRole] = field(default_factory=dict)
    arns: Arns = field(default_factory=Arns)

    def authorize(self, service: str, role_arn: str, source_arn: str, check: Check) -> None:
        """Raise `ServiceRoleError` unless `service` may assume the role `role_arn` for the
        resource `source_arn` and the role allows `check`."""
        role = self.roles.get(role_arn)
        if role is None:
            reason = f"{service} cannot assume {role_arn}: no such role in the template"
            raise ServiceRoleError(service, role_arn, check, reason, assumed=False)
        context = {SOURCE_ACCOUNT: self.arns.account, SOURCE_ARN: source_arn}
        if not trust_decision(role.trust, f"Service:{service}", ASSUME_ROLE, context).allowed:
            reason = (
                f"{service} cannot assume {role_arn}: its trust policy does not allow"
                f" {ASSUME_ROLE} by {service} for {source_arn}"
            )
            raise ServiceRoleError(service, role_arn, check, reason, assumed=False)
        decision = evaluate(role.statements, check.action, check.resource, check.context)
        if not decision.allowed:
            session = f"arn:{self.arns.partition}:sts::{self.arns.account}:assumed-role/{role.name}"
            why = (
                "with an explicit deny in an identity-based policy"
                if decision is Decision.DENY
                else f"because no identity-based policy allows the {check.action} action"
            )
            reason = (
                f"User: {session}/{service} is not authorized to perform: {check.action}"
                f" on resource: {check.resource} {why}"
            )
            raise ServiceRoleError(service, role_arn, check, reason, assumed=True)


NO_SERVICE_ROLES: Final = ServiceRoles()
"""No roles: every service action is refused, as for a role that does not exist."""


def service_roles(
    template: Mapping[str, Any],
    context: Context,
    statements: StatementsByRole | None = None,
) -> ServiceRoles:
    """The template's `AWS::IAM::Role`s for the services that assume them: each by the ARN
    `!GetAtt <Role>.Arn` gives in `context`, with its statements (`statements`, as
    `role_statements` gives them, when the caller has them already) and the statements of
    its trust policy that name AWS services. A trust statement with `NotPrincipal`, or a
    condition not evaluated here, stops the stack (`RolePolicyError`)."""
    if statements is None:
        statements = role_statements(template, context)
    roles = {}
    for name, document in trust_documents(template, context).items():
        arn = str(resolve({"Fn::GetAtt": [name, "Arn"]}, context, f"Resources.{name}.Arn"))
        where = f"Resources.{name}.Properties.AssumeRolePolicyDocument"
        try:
            trust = parse_trust_policy(document, where)
        except PolicyDocumentError as error:  # UnsupportedPolicyError too
            raise RolePolicyError(error.where, error.problem) from None
        roles[arn] = ServiceRole(name, arn, tuple(statements.get(name, ())), trust)
    arns = Arns(region=context.region, account=context.account_id, partition=context.partition)
    return ServiceRoles(roles, arns)


# ---------------------------------------------------------------- deciding


def role_of(principal_arn: str) -> str | None:
    """The role an `assumed-role` session ARN is for; None for any other principal."""
    kind, _, rest = principal_arn.rpartition(":")[2].partition("/")
    if not principal_arn.startswith("arn:aws:sts::") or kind != "assumed-role":
        return None
    return rest.split("/")[0]


def authorize(
    api: str,
    principal_arn: str,
    statements_by_role: StatementsByRole,
    checks: tuple[Check, ...],
) -> None:
    """Raise `AccessDeniedError` for the first check the caller's statements do not allow;
    the administrator is allowed everything, an unknown principal nothing."""
    if principal_arn == ADMIN_ARN:
        return
    role = role_of(principal_arn)
    statements = statements_by_role.get(role, ()) if role is not None else ()
    for check in checks:
        decision = evaluate(statements, check.action, check.resource, check.context)
        if not decision.allowed:
            raise AccessDeniedError(api, principal_arn, check, decision)
