"""AWS IoT Core policy documents, and how AWS decides with them.

`evaluate` answers, for the policies attached to one principal, whether AWS IoT Core would
let it do `action` on the resource named by an ARN: `ALLOW`, `DENY` (an explicit Deny
statement matched; it wins over every Allow) or `IMPLICIT_DENY` (nothing allowed it).

What is modelled, after the AWS IoT Core and IAM policy references:
- `Effect`, `Action`/`NotAction` (text or a list; IAM-style `*` and `?` wildcards; action
  names are not case-sensitive), `Resource`/`NotResource` (text or a list).
- A resource pattern is a glob over the whole ARN: `*` matches any run of characters,
  including `/` and `:`, `?` exactly one. MQTT's `+` and `#` have no special meaning in a
  policy, in `topic/` and `topicfilter/` resources alike: a `topicfilter/a/+` entry allows
  subscribing to the filter `a/+` itself, not to `a/b`.
- Policy variables, substituted before matching: `${iot:ClientId}`,
  `${iot:Connection.Thing.ThingName}` (only when a thing is attached to the principal) and
  `${cognito-identity.amazonaws.com:sub}` (only for a Cognito identity's credentials: its
  identity id; "IAM policy elements: Variables and tags", IAM User Guide), and `${*}`,
  `${?}`, `${$}` for the literal characters. A resource entry with
  a variable that is unknown or has no value matches nothing ("this variable won't be
  resolved and will result in an access denied error", AWS's thing policy examples).
  Substituted values are literal: a `*` in a client id is not a wildcard.
- Policy variables need `"Version": "2012-10-17"`; other versions are refused.
- `Condition` blocks are refused with `UnsupportedPolicyError`: ignoring one would allow
  more than AWS does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any, Final, cast

from swan.core.errors import SwanError

POLICY_VERSION: Final = "2012-10-17"

CONNECT: Final = "iot:Connect"
PUBLISH: Final = "iot:Publish"
SUBSCRIBE: Final = "iot:Subscribe"
RECEIVE: Final = "iot:Receive"
RETAIN_PUBLISH: Final = "iot:RetainPublish"

CLIENT_ID_VARIABLE: Final = "iot:ClientId"
THING_NAME_VARIABLE: Final = "iot:Connection.Thing.ThingName"
COGNITO_IDENTITY_VARIABLE: Final = "cognito-identity.amazonaws.com:sub"
_LITERAL_VARIABLES: Final = {"*": "*", "?": "?", "$": "$"}
_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")

_STATEMENT_KEYS: Final = frozenset(
    ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
)


class PolicyDocumentError(SwanError, ValueError):
    """A policy document is not one AWS IoT Core would accept; `where` says which part."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"invalid policy document at {where}: {problem}")


class UnsupportedPolicyError(PolicyDocumentError):
    """A valid policy uses something The Swan does not evaluate (e.g. a Condition)."""


class Decision(StrEnum):
    """AWS's answer for one request."""

    ALLOW = "allow"
    DENY = "deny"
    """An explicit Deny statement matched."""
    IMPLICIT_DENY = "implicit-deny"
    """No statement allowed the request."""

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class Wildcard(Enum):
    """A wildcard in a resource pattern."""

    ANY = "*"
    ONE = "?"


@dataclass(frozen=True)
class Variable:
    """A policy variable in a resource pattern, e.g. `iot:ClientId`."""

    name: str


Glob = str | Wildcard
"""One step of a glob: a literal character or a wildcard."""

Atom = str | Wildcard | Variable
"""One step of a resource pattern: a literal character, a wildcard or a policy variable."""


@dataclass(frozen=True)
class PolicyContext:
    """Who asks, and where: the values policy variables and ARNs are made of.

    `thing_name` is None when no thing is attached to the principal (a Cognito identity,
    say): `${iot:Connection.Thing.ThingName}` then has no value. `cognito_identity` is the
    identity id of a Cognito identity's credentials, None for any other principal.
    """

    thing_name: str | None
    client_id: str
    region: str
    account: str
    partition: str = "aws"
    cognito_identity: str | None = None

    def variable(self, name: str) -> str | None:
        """The value of the policy variable `name`, or None if unknown or unavailable."""
        wanted = name.casefold()  # IAM context keys are not case-sensitive
        if wanted == CLIENT_ID_VARIABLE.casefold():
            return self.client_id
        if wanted == THING_NAME_VARIABLE.casefold():
            return self.thing_name
        if wanted == COGNITO_IDENTITY_VARIABLE.casefold():
            return self.cognito_identity
        return None

    def arn(self, resource: str) -> str:
        """The ARN of an AWS IoT resource (`topic/a/b`, `client/pi`) in this account."""
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{resource}"


def topic_arn(topic: str, context: PolicyContext) -> str:
    """What `iot:Publish` and `iot:Receive` are checked against."""
    return context.arn(f"topic/{topic}")


def topicfilter_arn(topic_filter: str, context: PolicyContext) -> str:
    """What `iot:Subscribe` is checked against (the filter as the client sent it)."""
    return context.arn(f"topicfilter/{topic_filter}")


def client_arn(client_id: str, context: PolicyContext) -> str:
    """What `iot:Connect` is checked against."""
    return context.arn(f"client/{client_id}")


# ---------------------------------------------------------------- patterns


@lru_cache(maxsize=4096)
def parse_resource(pattern: str) -> tuple[Atom, ...]:
    """A resource pattern as atoms: characters, `*`/`?` wildcards and policy variables.

    `${*}`, `${?}` and `${$}` become the literal characters. Raises
    `UnsupportedPolicyError` for a variable with a default value (`${name, 'default'}`).
    """
    atoms: list[Atom] = []
    position = 0
    for found in _VARIABLE.finditer(pattern):
        atoms.extend(plain_glob(pattern[position : found.start()]))
        name = found.group(1)
        if "," in name:
            raise UnsupportedPolicyError(pattern, "policy variables with default values")
        atoms.extend(_LITERAL_VARIABLES.get(name) or (Variable(name),))
        position = found.end()
    atoms.extend(plain_glob(pattern[position:]))
    return tuple(atoms)


def plain_glob(text: str) -> list[Glob]:
    """`text` as a glob: `*` and `?` are wildcards, every other character itself."""
    return [Wildcard(char) if char in "*?" else char for char in text]


def glob_matches(pattern: Sequence[Glob], text: str) -> bool:
    """Whether `text` matches the glob: `*` any run of characters, `?` exactly one. The one
    glob matcher of the project's policies (IoT here, IAM in swan.local.core.iam)."""
    position = index = 0
    star, resume = -1, 0  # the last `*` seen, and where in `text` it stopped matching
    while index < len(text):
        piece = pattern[position] if position < len(pattern) else None
        if piece is Wildcard.ONE or piece == text[index]:
            position, index = position + 1, index + 1
        elif piece is Wildcard.ANY:
            star, resume = position, index
            position += 1
        elif star >= 0:  # let the last `*` take one more character, and try again
            resume += 1
            position, index = star + 1, resume
        else:
            return False
    return all(piece is Wildcard.ANY for piece in pattern[position:])


_Compiled = tuple[str, tuple[Glob, ...]]
"""A glob as its literal head and the rest from its first wildcard on."""


def _compiled(globs: Sequence[Glob]) -> _Compiled:
    split = next((i for i, glob in enumerate(globs) if isinstance(glob, Wildcard)), len(globs))
    head = "".join(glob for glob in globs[:split] if isinstance(glob, str))
    return head, tuple(globs[split:])


def _matches(compiled: _Compiled, text: str) -> bool:
    head, rest = compiled
    if not rest:
        return text == head
    return text.startswith(head) and glob_matches(rest, text[len(head) :])


@lru_cache(maxsize=1024)
def _action_glob(pattern: str) -> _Compiled:
    """An action pattern (`iot:*`, `iot:Publish`), compiled once: asked of every statement
    on every evaluation."""
    return _compiled(plain_glob(pattern.casefold()))


@lru_cache(maxsize=8192)
def _resource_glob(entry: str, context: PolicyContext) -> _Compiled | None:
    """A resource entry, its variables substituted; None if one has no value. (A variable's
    value is literal, so the head, up to the entry's first wildcard, is joined from the
    entry's own runs of characters and the values: no character by character walk.)"""
    head_parts, rest = _resource_parts(entry)
    head: list[str] = []
    for part in head_parts:
        value = context.variable(part.name) if isinstance(part, Variable) else part
        if value is None:
            return None
        head.append(value)
    globs = _resolved(rest, context)
    return None if globs is None else ("".join(head), tuple(globs))


@lru_cache(maxsize=1024)
def _resource_parts(entry: str) -> tuple[tuple[str | Variable, ...], tuple[Atom, ...]]:
    """A resource entry up to its first wildcard, as runs of characters and variables, and
    the rest from that wildcard on."""
    atoms = parse_resource(entry)
    split = next((i for i, atom in enumerate(atoms) if isinstance(atom, Wildcard)), len(atoms))
    parts: list[str | Variable] = []
    for atom in atoms[:split]:
        if isinstance(atom, str) and parts and isinstance(parts[-1], str):
            parts[-1] += atom
        else:
            parts.append(cast("str | Variable", atom))
    return tuple(parts), atoms[split:]


def _resolved(atoms: tuple[Atom, ...], context: PolicyContext) -> list[Glob] | None:
    """`atoms` with each variable replaced by its (literal) value; None if one has none."""
    result: list[Glob] = []
    for atom in atoms:
        if isinstance(atom, Variable):
            value = context.variable(atom.name)
            if value is None:
                return None
            result.extend(value)
        else:
            result.append(atom)
    return result


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class Statement:
    """One statement. `not_action`/`not_resource`: the lists name what it does not cover."""

    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    sid: str | None = None

    def matches_action(self, action: str) -> bool:
        wanted = action.casefold()  # action names are not case-sensitive
        listed = any(_matches(_action_glob(p), wanted) for p in self.actions)
        return listed != self.not_action

    def matches_resource(self, resource_arn: str, context: PolicyContext) -> bool:
        listed = any(
            compiled is not None and _matches(compiled, resource_arn)
            for compiled in (_resource_glob(entry, context) for entry in self.resources)
        )
        return listed != self.not_resource

    def applies(self, action: str, resource_arn: str, context: PolicyContext) -> bool:
        return self.matches_action(action) and self.matches_resource(resource_arn, context)


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed policy document."""

    statements: tuple[Statement, ...]
    version: str = POLICY_VERSION


def parse_policy(document: Mapping[str, Any]) -> PolicyDocument:
    """Check and parse one policy document (as JSON decodes it).

    Raises `PolicyDocumentError` for a document AWS would refuse, and
    `UnsupportedPolicyError` for one using a Condition.
    """
    if not isinstance(document, Mapping):
        raise PolicyDocumentError("document", "a policy document is a JSON object")
    unknown = set(document) - {"Version", "Statement", "Id"}
    if unknown:
        raise PolicyDocumentError(", ".join(sorted(unknown)), "not a policy document element")
    version = document.get("Version")
    if version != POLICY_VERSION:
        raise PolicyDocumentError(
            "Version", f"expected {POLICY_VERSION!r} (policy variables need it), found {version!r}"
        )
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyDocumentError("Statement", "expected a statement or a non-empty list of them")
    return PolicyDocument(
        tuple(_statement(item, f"Statement[{index}]") for index, item in enumerate(statements))
    )


@dataclass(frozen=True)
class Elements:
    """The elements every policy statement has, checked (IoT and IAM policies alike)."""

    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    sid: str | None


def statement_elements(item: Any, where: str, *, what: str = "IoT policy") -> Elements:
    """Effect, Action or NotAction, Resource or NotResource and Sid of one statement, or
    `PolicyDocumentError`; any key beyond those and Condition is refused too."""
    if not isinstance(item, Mapping):
        raise PolicyDocumentError(where, "a statement is a JSON object")
    unknown = set(item) - _STATEMENT_KEYS
    if unknown:
        raise PolicyDocumentError(f"{where}.{min(unknown)}", f"not an {what} element")
    effect = item.get("Effect")
    if effect not in tuple(Effect):
        raise PolicyDocumentError(f"{where}.Effect", f"expected Allow or Deny, found {effect!r}")
    actions, not_action = _either(item, "Action", where)
    resources, not_resource = _either(item, "Resource", where)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyDocumentError(f"{where}.Sid", "expected text")
    return Elements(Effect(effect), actions, not_action, resources, not_resource, sid)


def _statement(item: Any, where: str) -> Statement:
    elements = statement_elements(item, where)
    if "Condition" in item:
        raise UnsupportedPolicyError(
            f"{where}.Condition", "conditions are not evaluated here; write the rule without one"
        )
    return Statement(
        elements.effect,
        elements.actions,
        elements.resources,
        elements.not_action,
        elements.not_resource,
        elements.sid,
    )


def _either(item: Mapping[str, Any], name: str, where: str) -> tuple[tuple[str, ...], bool]:
    """The `name` or `Not<name>` list of a statement (exactly one of them), and which."""
    negated = f"Not{name}"
    if (name in item) == (negated in item):
        raise PolicyDocumentError(where, f"a statement has exactly one of {name}, {negated}")
    key = negated if negated in item else name
    value = item[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyDocumentError(f"{where}.{key}", "expected text or a non-empty list of text")
    return tuple(values), key == negated


@lru_cache(maxsize=256)
def parse_policy_text(text: str) -> PolicyDocument:
    """A policy document as the registry keeps it (its JSON text), checked and parsed
    (`parse_policy`) once: a policy version's text never changes, and every connection of
    a device asks for its certificate's policies. A document that fails is not kept."""
    return parse_policy(json.loads(text))


def parse_policies(
    documents: Iterable[Mapping[str, Any] | PolicyDocument],
) -> tuple[PolicyDocument, ...]:
    """Parse each document that is not parsed yet."""
    return tuple(
        document if isinstance(document, PolicyDocument) else parse_policy(document)
        for document in documents
    )


# ---------------------------------------------------------------- deciding


def evaluate(
    documents: Iterable[Mapping[str, Any] | PolicyDocument],
    action: str,
    resource_arn: str,
    context: PolicyContext,
) -> Decision:
    """What AWS IoT Core decides for `action` on `resource_arn` under these policies."""
    decision = Decision.IMPLICIT_DENY
    for document in parse_policies(documents):
        for statement in document.statements:
            if statement.applies(action, resource_arn, context):
                if statement.effect is Effect.DENY:
                    return Decision.DENY
                decision = Decision.ALLOW
    return decision


@dataclass(frozen=True)
class Principal:
    """A connected client, its attached policies, and the MQTT questions asked of them."""

    policies: tuple[PolicyDocument, ...]
    context: PolicyContext

    @classmethod
    def of(
        cls, documents: Iterable[Mapping[str, Any] | PolicyDocument], context: PolicyContext
    ) -> Principal:
        return cls(parse_policies(documents), context)

    def decide(self, action: str, resource_arn: str) -> Decision:
        return evaluate(self.policies, action, resource_arn, self.context)

    def can_connect(self) -> bool:
        return self.decide(CONNECT, client_arn(self.context.client_id, self.context)).allowed

    def can_publish(self, topic: str) -> bool:
        return self.decide(PUBLISH, topic_arn(topic, self.context)).allowed

    def can_subscribe(self, topic_filter: str) -> bool:
        return self.decide(SUBSCRIBE, topicfilter_arn(topic_filter, self.context)).allowed

    def can_receive(self, topic: str) -> bool:
        return self.decide(RECEIVE, topic_arn(topic, self.context)).allowed

    def can_retain(self, topic: str) -> bool:
        """A publish with RETAIN set also needs `iot:RetainPublish` on its topic."""
        return self.decide(RETAIN_PUBLISH, topic_arn(topic, self.context)).allowed
