"""IAM identity policies, and how AWS decides with them.

`evaluate` answers, for the statements of one principal's identity policies, whether AWS
would let it do `action` on one resource ARN in a request whose context holds `context`:
`ALLOW`, `DENY` (an explicit Deny matched; it wins over every Allow) or `IMPLICIT_DENY`.
After "Policy evaluation logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_evaluation-logic.html) and the JSON element reference
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html):
- `Action`/`NotAction`: `*` and `?` wildcards, not case-sensitive.
- `Resource`/`NotResource`: a glob over the whole ARN (case-sensitive), matched as
  swan.local.core.policy matches IoT resources. A policy variable (`${aws:username}`) takes its
  value from the request context; one the context lacks makes the entry match nothing.
- `Condition`: `StringEquals` and `StringLike` (wildcards in the values). Keys are not
  case-sensitive, values are. Several values of one key: any may match; several keys or
  operators: all must match; a key missing from the context does not match
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  A context value is text, or a tuple of texts for a multivalued key (a Cognito token's
  `amr`). `ForAnyValue:` before an operator holds when at least one of the request's values
  matches one of the policy's; an empty or missing key does not match. A plain operator
  compares one value and never matches a multivalued key, and a multivalued key is no
  policy variable ("Single-valued vs. multivalued context keys":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
  Other operators and set qualifiers (`ForAllValues:`) are refused with
  `UnsupportedPolicyError`: ignoring a condition would allow more than AWS does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from swan.local.core.policy import (
    POLICY_VERSION,
    Decision,
    Effect,
    PolicyDocumentError,
    UnsupportedPolicyError,
    Variable,
    glob_matches,
    parse_resource,
    plain_glob,
    statement_elements,
)

STRING_EQUALS: Final = "StringEquals"
STRING_LIKE: Final = "StringLike"
FOR_ANY_VALUE: Final = "ForAnyValue:"
_OPERATORS: Final = frozenset((STRING_EQUALS, STRING_LIKE))

ContextValue = str | tuple[str, ...]
"""One key's value in a request: text, or a tuple of texts for a multivalued key."""
RequestContext = Mapping[str, ContextValue]
"""Condition keys and their values for one request (keys in any case)."""


@dataclass(frozen=True)
class Condition:
    """One `operator: {key: values}` entry of a Condition block."""

    operator: str
    key: str
    values: tuple[str, ...]
    for_any_value: bool = False  # the `ForAnyValue:` set qualifier

    def holds(self, context: RequestContext) -> bool:
        """`context` is keyed by casefolded names."""
        value = context.get(self.key.casefold())
        if value is None:
            return False
        if isinstance(value, tuple):
            return self.for_any_value and any(self._matches(item) for item in value)
        return self._matches(value)

    def _matches(self, value: str) -> bool:
        if self.operator == STRING_EQUALS:
            return value in self.values
        return any(glob_matches(plain_glob(pattern), value) for pattern in self.values)


@dataclass(frozen=True)
class IamStatement:
    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    not_action: bool = False
    not_resource: bool = False
    sid: str | None = None

    def applies(self, action: str, resource_arn: str, context: RequestContext) -> bool:
        """`context` is keyed by casefolded names."""
        wanted = action.casefold()
        listed = any(glob_matches(plain_glob(p.casefold()), wanted) for p in self.actions)
        if listed == self.not_action:
            return False
        named = any(_resource_matches(entry, resource_arn, context) for entry in self.resources)
        if named == self.not_resource:
            return False
        return all(condition.holds(context) for condition in self.conditions)


def _resource_matches(entry: str, resource_arn: str, context: RequestContext) -> bool:
    globs: list[Any] = []
    for atom in parse_resource(entry):
        if isinstance(atom, Variable):
            value = context.get(atom.name.casefold())
            if not isinstance(value, str):  # missing, or multivalued: no policy variable
                return False
            globs.extend(value)  # literal characters: a `*` in a value is no wildcard
        else:
            globs.append(atom)
    return glob_matches(globs, resource_arn)


def parse_statements(document: Mapping[str, Any]) -> tuple[IamStatement, ...]:
    """The statements of one identity policy document (as JSON decodes it).

    Raises `PolicyDocumentError` for a document IAM would refuse, `UnsupportedPolicyError`
    for a condition operator not evaluated here.
    """
    if not isinstance(document, Mapping):
        raise PolicyDocumentError("document", "a policy document is a JSON object")
    if document.get("Version") != POLICY_VERSION:
        raise PolicyDocumentError("Version", f"expected {POLICY_VERSION!r}")
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyDocumentError("Statement", "expected a statement or a non-empty list of them")
    return tuple(_statement(item, f"Statement[{index}]") for index, item in enumerate(statements))


def _statement(item: Any, where: str) -> IamStatement:
    elements = statement_elements(item, where, what="IAM policy")
    conditions = _conditions(item.get("Condition", {}), f"{where}.Condition")
    return IamStatement(
        elements.effect,
        elements.actions,
        elements.resources,
        conditions,
        elements.not_action,
        elements.not_resource,
        elements.sid,
    )


def _texts(value: Any, where: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyDocumentError(where, "expected text or a non-empty list of text")
    return tuple(values)


def _conditions(block: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(block, Mapping):
        raise PolicyDocumentError(where, "a Condition block is a JSON object")
    found: list[Condition] = []
    for operator, entries in block.items():
        for_any_value = operator.startswith(FOR_ANY_VALUE)
        base = operator.removeprefix(FOR_ANY_VALUE)
        if base not in _OPERATORS:
            raise UnsupportedPolicyError(f"{where}.{operator}", "operator not evaluated here")
        if not isinstance(entries, Mapping) or not entries:
            raise PolicyDocumentError(f"{where}.{operator}", "expected keys and their values")
        found.extend(
            Condition(base, key, _texts(values, f"{where}.{operator}.{key}"), for_any_value)
            for key, values in entries.items()
        )
    return tuple(found)


def evaluate(
    statements: Iterable[IamStatement],
    action: str,
    resource_arn: str,
    context: RequestContext,
) -> Decision:
    """What IAM decides for `action` on `resource_arn` under these identity statements."""
    keys = {key.casefold(): value for key, value in context.items()}
    decision = Decision.IMPLICIT_DENY
    for statement in statements:
        if statement.applies(action, resource_arn, keys):
            if statement.effect is Effect.DENY:
                return Decision.DENY
            decision = Decision.ALLOW
    return decision
