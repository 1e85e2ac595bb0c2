"""Role trust policies: who may assume a role, as IAM decides it.

A role's trust policy (`AssumeRolePolicyDocument`) is the role's resource-based policy: IAM
matches the caller against each statement's `Principal` (`*`, `{"AWS": ...}`,
`{"Service": ...}`, `{"Federated": ...}`), then evaluates Action and Condition as in any
policy, an explicit Deny winning ("IAM JSON policy elements: Principal",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html;
"Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
Used for Cognito's unauthenticated role (`Federated:cognito-identity.amazonaws.com`,
swan.local.core.cognito) and for the roles AWS services assume for the stack
(`Service:iot.amazonaws.com`, `Service:scheduler.amazonaws.com`, swan.local.authorization).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swan.local.core.iam import IamStatement, evaluate, parse_statements
from swan.local.core.policy import PolicyDocumentError, UnsupportedPolicyError

if TYPE_CHECKING:
    from swan.local.core.iam import RequestContext
    from swan.local.core.policy import Decision


@dataclass(frozen=True)
class TrustStatement:
    """One statement of a role's trust policy: who (`principals`: `*`, or `Federated:<id>`,
    `AWS:<arn>`, `Service:<name>`) may do what under which conditions (`rule`, evaluated
    by `swan.local.core.iam` with every resource)."""

    principals: frozenset[str]
    rule: IamStatement

    def names(self, principal: str) -> bool:
        # `"Principal": "*"` and `{"AWS": "*"}` are the same: everyone (IAM's Principal
        # element reference).
        return bool({"*", "AWS:*", principal} & self.principals)


def parse_trust_policy(
    document: Any, where: str = "AssumeRolePolicyDocument"
) -> tuple[TrustStatement, ...]:
    """The statements of a role's trust policy. `PolicyDocumentError` for one IAM would
    refuse (no Principal), `UnsupportedPolicyError` for what is not evaluated here
    (NotPrincipal, condition operators swan.local.core.iam does not evaluate)."""
    if not isinstance(document, Mapping):
        raise PolicyDocumentError(where, "a policy document is a JSON object")
    statements = document.get("Statement")
    items = [statements] if isinstance(statements, Mapping) else statements
    if not isinstance(items, list):
        raise PolicyDocumentError(f"{where}.Statement", "expected a statement or a list of them")
    found = []
    for index, item in enumerate(items):
        here = f"{where}.Statement[{index}]"
        if not isinstance(item, Mapping):
            raise PolicyDocumentError(here, "a statement is a JSON object")
        if "NotPrincipal" in item:
            raise UnsupportedPolicyError(f"{here}.NotPrincipal", "not evaluated here")
        principals = _principals(item.get("Principal"), f"{here}.Principal")
        # The rest is an identity-policy statement about the role itself.
        rest = {key: value for key, value in item.items() if key != "Principal"}
        found.append((principals, {**rest, "Resource": "*"}))
    try:
        rules = parse_statements({**document, "Statement": [rule for _, rule in found] or None})
    except PolicyDocumentError as error:  # its place in the role, whichever kind it is
        raise type(error)(f"{where}.{error.where}", error.problem) from None
    return tuple(
        TrustStatement(principals, rule) for (principals, _), rule in zip(found, rules, strict=True)
    )


def _principals(value: Any, where: str) -> frozenset[str]:
    if value == "*":
        return frozenset({"*"})
    if not isinstance(value, Mapping) or not value:
        raise PolicyDocumentError(where, "a trust policy statement names its Principal")
    principals: set[str] = set()
    for kind, names in value.items():
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise PolicyDocumentError(f"{where}.{kind}", "expected text or a list of text")
        principals.update(f"{kind}:{name}" for name in listed)
    return frozenset(principals)


def trust_decision(
    trust: tuple[TrustStatement, ...], principal: str, action: str, context: RequestContext
) -> Decision:
    """What IAM decides for `principal` (e.g. `Federated:cognito-identity.amazonaws.com`)
    doing `action` on the role under its trust policy: an explicit Deny wins."""
    rules = [statement.rule for statement in trust if statement.names(principal)]
    return evaluate(rules, action, "*", context)
