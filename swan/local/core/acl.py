"""The local broker's ACL, derived from the AWS IoT policy documents, and Mosquitto's check.

`mosquitto_acl` turns policy documents into the `pattern` lines of a Mosquitto 2.0 ACL file,
so that the local broker allows what AWS IoT Core would, no more:

- `iot:Publish` becomes `write`; `iot:Receive` becomes `read`. Mosquitto does not check
  subscriptions against an ACL file (every SUBSCRIBE is granted) but checks `read` for every
  message it delivers, so a topic a client may receive must also be one it may subscribe
  to: each Allow of `iot:Receive` needs an Allow of `iot:Subscribe` on the same pattern (as a
  `topicfilter/`), and each Deny of `iot:Subscribe` a Deny of `iot:Receive`.
- Explicit Deny becomes `pattern deny`. Mosquitto checks deny lines before allow lines,
  wherever they are in the file (as AWS lets a Deny win), but a deny line refuses reading
  and writing alike; a Deny of one that would take away the other, which the policy allows,
  is refused.
- `${iot:ClientId}` becomes `%c`, and so does `${iot:Connection.Thing.ThingName}` when the
  listener's clients are things: the device gateway lets a device connect only with its
  thing name as client id. `iot:Connect` is the gateway's to enforce, not the ACL's.
- AWS's `*` becomes an MQTT wildcard only where that is exact: `a/*` (a whole last level)
  becomes `a/+/#` (`a/#` would also match `a` itself). A `*` that is a whole level in the
  middle (`a/*/b`) becomes `+` in an Allow; AWS's `*` would also span several levels there,
  so for such topics, which no thing or shadow name makes, the ACL allows less, never more.
  Anything else (`?`, `a*`, a first-level `*`, a wildcard in the region or account, a
  middle `*` in a Deny, `NotResource`) raises `AclTranslationError`.

`acl_allows` is Mosquitto 2.0's check of an ACL file, for tests to compare the two without a
broker: per-user `topic` lines first, then `pattern` lines with `%c` and `%u` substituted;
deny lines before allow lines in each; a client whose id or username holds `+` or `#` gets
nothing from patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import InvalidTopicError, SwanError
from swan.core.topics import SEPARATOR, matches, validate_filter, validate_topic
from swan.local.core.policy import (
    PUBLISH,
    RECEIVE,
    SUBSCRIBE,
    Atom,
    Effect,
    PolicyContext,
    PolicyDocument,
    Variable,
    Wildcard,
    parse_policies,
    parse_resource,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

CLIENT_ID: Final = "%c"
USERNAME: Final = "%u"
_SUBSTITUTION: Final = re.compile(r"%[cu]")
_MQTT_WILDCARDS: Final = ("+", "#")


class Access(StrEnum):
    """What a client asks the broker for."""

    READ = "read"
    WRITE = "write"


class AclTranslationError(SwanError, ValueError):
    """A policy says something a Mosquitto ACL cannot say exactly."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"no exact Mosquitto ACL for {where}: {problem}")


class AclSyntaxError(SwanError, ValueError):
    """A line of an ACL file that Mosquitto would refuse to load."""

    def __init__(self, line_number: int, problem: str) -> None:
        self.line_number = line_number
        self.problem = problem
        super().__init__(f"ACL line {line_number}: {problem}")


def listener_context(
    region: str, account: str, partition: str = "aws", *, things: bool, identities: bool = False
) -> PolicyContext:
    """The context to derive one listener's ACL in: every client is `%c`.

    With `things`, each client is a thing whose name is its client id (the gateway's rule);
    without, no thing is attached and thing policy variables match nothing, as in AWS. With
    `identities`, each client is a Cognito identity connected with its identity id as client
    id (its role allows no other), so `${cognito-identity.amazonaws.com:sub}` is `%c` too.
    """
    return PolicyContext(
        CLIENT_ID if things else None,
        CLIENT_ID,
        region,
        account,
        partition,
        cognito_identity=CLIENT_ID if identities else None,
    )


# ---------------------------------------------------------------- policies -> ACL


class _Slot(Enum):
    CLIENT = CLIENT_ID


_Piece = str | Wildcard | _Slot
_Pattern = tuple[_Piece, ...]
_KINDS: Final = ((PUBLISH, "topic"), (SUBSCRIBE, "topicfilter"), (RECEIVE, "topic"))


@dataclass(frozen=True)
class _Entry:
    """One topic pattern of one resource entry, with where it came from."""

    where: str
    effect: Effect
    pattern: _Pattern


def mosquitto_acl(
    documents: Iterable[Mapping[str, Any] | PolicyDocument], context: PolicyContext
) -> str:
    """The ACL file, in `pattern` lines, that allows what `documents` allow.

    `context` gives the partition, region and account the ARNs must name, and the identity
    (see `listener_context`). Raises `AclTranslationError` rather than write a looser ACL.
    """
    entries = _entries(parse_policies(documents), context)
    _check_pairs(entries)
    write_allow = _filters(entries[PUBLISH], Effect.ALLOW)
    write_deny = _filters(entries[PUBLISH], Effect.DENY)
    read_allow = _filters(entries[RECEIVE], Effect.ALLOW)
    read_deny = _filters(entries[RECEIVE], Effect.DENY)
    _check_denies(write_deny, read_allow, read_deny, "receiving")
    _check_denies(read_deny, write_allow, write_deny, "publishing")

    allowed: dict[str, set[Access]] = {}
    for topic_filter in write_allow:
        allowed.setdefault(topic_filter, set()).add(Access.WRITE)
    for topic_filter in read_allow:
        allowed.setdefault(topic_filter, set()).add(Access.READ)
    lines = ["# Derived from AWS IoT policies by swan.local.core.acl; %c is the client id."]
    lines += [f"pattern deny {topic_filter}" for topic_filter in {**write_deny, **read_deny}]
    lines += [
        f"pattern {'readwrite' if len(access) > 1 else access.pop()} {topic_filter}"
        for topic_filter, access in allowed.items()
    ]
    return "\n".join(lines) + "\n"


def _entries(policies: Sequence[PolicyDocument], context: PolicyContext) -> dict[str, list[_Entry]]:
    entries: dict[str, list[_Entry]] = {action: [] for action, _ in _KINDS}
    for number, document in enumerate(policies, 1):
        for index, statement in enumerate(document.statements):
            name = statement.sid or f"Statement[{index}]"
            for action, kind in _KINDS:
                if not statement.matches_action(action):
                    continue
                if statement.not_resource:
                    raise AclTranslationError(
                        f"policy {number} {name}", "NotResource covers every topic but a few"
                    )
                for resource in statement.resources:
                    where = f"policy {number} {name} {resource!r}"
                    pieces = _pieces(parse_resource(resource), context)
                    if pieces is None:
                        continue  # a variable without a value: AWS matches nothing either
                    topic = _after(pieces, context.arn(f"{kind}/"), where)
                    if topic:  # None: another resource; empty: no topic is empty
                        entries[action].append(_Entry(where, statement.effect, topic))
    return entries


def _pieces(atoms: tuple[Atom, ...], context: PolicyContext) -> _Pattern | None:
    pieces: list[_Piece] = []
    for atom in atoms:
        if not isinstance(atom, Variable):
            pieces.append(atom)
            continue
        value = context.variable(atom.name)
        if value is None:
            return None
        pieces.extend((_Slot.CLIENT,) if value == CLIENT_ID else value)
    return tuple(pieces)


def _after(pattern: _Pattern, prefix: str, where: str) -> _Pattern | None:
    """The topic part of `pattern`, if it names ARNs that start with `prefix`.

    A glob spans the whole ARN, so a wildcard before the topic could go on into it: that is
    refused, unless the pattern has already failed to match `prefix` by then.
    """
    for index, char in enumerate(prefix):
        piece = pattern[index] if index < len(pattern) else None
        if isinstance(piece, Wildcard | _Slot):
            raise AclTranslationError(
                where,
                "a wildcard or policy variable before the topic (in the region, account or"
                " resource type) can also match inside the topic; name them",
            )
        if piece != char:
            return None
    return pattern[len(prefix) :]


def _covers(general: _Pattern, specific: _Pattern) -> bool:
    """Whether every topic `specific` matches is matched by `general` (sure cases only)."""
    if general == specific:
        return True
    head = general[:-1]
    return (
        bool(general)
        and general[-1] is Wildcard.ANY
        and Wildcard.ANY not in head
        and Wildcard.ONE not in head
        and specific[: len(head)] == head
    )


def _check_pairs(entries: Mapping[str, list[_Entry]]) -> None:
    subscribable = [e.pattern for e in entries[SUBSCRIBE] if e.effect is Effect.ALLOW]
    for entry in entries[RECEIVE]:
        if entry.effect is Effect.ALLOW and not any(
            _covers(s, entry.pattern) for s in subscribable
        ):
            raise AclTranslationError(
                entry.where,
                "it may be received but not subscribed to, and Mosquitto's read allows both;"
                " allow iot:Subscribe on the same pattern as a topicfilter",
            )
    unreceivable = [e.pattern for e in entries[RECEIVE] if e.effect is Effect.DENY]
    for entry in entries[SUBSCRIBE]:
        if entry.effect is Effect.DENY and not any(_covers(r, entry.pattern) for r in unreceivable):
            raise AclTranslationError(
                entry.where,
                "Mosquitto cannot refuse a subscription, only the messages;"
                " deny iot:Receive on the same pattern as a topic",
            )


def _filters(entries: Iterable[_Entry], effect: Effect) -> dict[str, str]:
    """The MQTT filters of the entries with `effect`, each with where it came from."""
    filters: dict[str, str] = {}
    for entry in entries:
        if entry.effect is effect:
            filters.setdefault(_mqtt_filter(entry), entry.where)
    return filters


def _levels(pattern: _Pattern) -> list[list[_Piece]]:
    levels: list[list[_Piece]] = [[]]
    for piece in pattern:
        if piece == SEPARATOR:
            levels.append([])
        else:
            levels[-1].append(piece)
    return levels


def _mqtt_filter(entry: _Entry) -> str:
    levels = _levels(entry.pattern)
    out: list[str] = []
    for index, level in enumerate(levels):
        if level == [Wildcard.ANY]:
            out.append(_star_level(entry, index, len(levels)))
        elif level == [_Slot.CLIENT]:
            out.append(CLIENT_ID)
        else:
            out.append(_literal_level(entry, level))
    return SEPARATOR.join(out)


def _star_level(entry: _Entry, index: int, count: int) -> str:
    if index == 0:
        raise AclTranslationError(
            entry.where, "a * in the first level also matches $ topics, which + and # never do"
        )
    if index == count - 1:
        return "+/#"
    if entry.effect is Effect.DENY:
        raise AclTranslationError(
            entry.where,
            "a * between two / may span levels, + only one: the ACL would deny less",
        )
    return "+"


def _literal_level(entry: _Entry, level: list[_Piece]) -> str:
    text = "".join(piece for piece in level if isinstance(piece, str))
    if len(text) != len(level):
        raise AclTranslationError(
            entry.where, "a wildcard or variable that is not a whole topic level"
        )
    if any(wildcard in text for wildcard in _MQTT_WILDCARDS):
        raise AclTranslationError(
            entry.where, "+ and # are plain characters in a policy, so it matches no topic name"
        )
    if _SUBSTITUTION.search(text):
        raise AclTranslationError(entry.where, "Mosquitto would substitute the %c or %u in it")
    return text


def _check_denies(
    denies: Mapping[str, str], allows: Iterable[str], also_denied: Iterable[str], other: str
) -> None:
    """A deny line refuses both directions: it must not take away what the policy allows."""
    allows, also_denied = list(allows), list(also_denied)
    for deny, where in denies.items():
        if any(_overlap(deny, allow) for allow in allows) and not any(
            _subsumes(d, deny) for d in also_denied
        ):
            raise AclTranslationError(
                where, f"a Mosquitto deny line would also stop {other} topics the policy allows"
            )


def _overlap(first: str, second: str) -> bool:
    """Whether some topic could match both filters (`%c` may be any level)."""
    left, right = first.split(SEPARATOR), second.split(SEPARATOR)
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else None
        b = right[index] if index < len(right) else None
        if "#" in (a, b):
            return True
        if a is None or b is None:
            return False
        if a != b and not {a, b} & {"+", CLIENT_ID}:
            return False
    return True


def _subsumes(general: str, specific: str) -> bool:
    """Whether every topic `specific` matches also matches `general` (for any client)."""
    wide, narrow = general.split(SEPARATOR), specific.split(SEPARATOR)
    for index, level in enumerate(wide):
        if level == "#":
            return True
        if index >= len(narrow) or narrow[index] == "#":
            return False
        if level not in ("+", narrow[index]):
            return False
    return len(wide) == len(narrow)


# ---------------------------------------------------------------- Mosquitto's check


@dataclass(frozen=True)
class AclRule:
    """One `topic` or `pattern` line; no `access` means `deny`."""

    topic: str
    access: frozenset[Access]


@dataclass(frozen=True)
class MosquittoAcl:
    """A parsed ACL file: `topic` lines by username (None: before any `user` line)."""

    users: Mapping[str | None, tuple[AclRule, ...]] = field(default_factory=dict)
    patterns: tuple[AclRule, ...] = ()


_ACCESS: Final = {
    "read": frozenset((Access.READ,)),
    "write": frozenset((Access.WRITE,)),
    "readwrite": frozenset(Access),
    "deny": frozenset[Access](),
}


def parse_acl(text: str) -> MosquittoAcl:
    """Read an ACL file as Mosquitto 2.0 does; `AclSyntaxError` where it would refuse it."""
    users: dict[str | None, list[AclRule]] = {}
    patterns: list[AclRule] = []
    user: str | None = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.lstrip(" ").partition(" ")
        if keyword == "user":
            user = rest.strip()
            if not user:
                raise AclSyntaxError(number, "user needs a username")
        elif keyword in ("topic", "pattern"):
            rule = _rule(number, rest.lstrip(" "))
            if keyword == "topic":
                users.setdefault(user, []).append(rule)
            else:
                patterns.append(rule)
        else:
            raise AclSyntaxError(number, f"expected topic, pattern or user, found {keyword!r}")
    return MosquittoAcl({name: tuple(rules) for name, rules in users.items()}, tuple(patterns))


def _rule(number: int, rest: str) -> AclRule:
    access, _, topic = rest.partition(" ")
    topic = topic.strip()
    if not topic:  # `topic a/b` alone: the access is readwrite
        access, topic = "readwrite", access
    if access not in _ACCESS:
        raise AclSyntaxError(number, f"access is read, write, readwrite or deny, not {access!r}")
    try:
        validate_filter(topic)
    except InvalidTopicError as error:
        raise AclSyntaxError(number, str(error)) from None
    return AclRule(topic, _ACCESS[access])


def acl_allows(
    acl: str | MosquittoAcl,
    client_id: str,
    access: Access,
    topic: str,
    *,
    username: str | None = None,
) -> bool:
    """Whether Mosquitto 2.0 lets this client read or write `topic` under `acl`."""
    validate_topic(topic)
    acl = parse_acl(acl) if isinstance(acl, str) else acl
    rules = acl.users.get(username)
    if rules is None and not acl.patterns:
        return False
    verdict = _verdict(rules or (), access, topic, lambda pattern: pattern)
    if verdict is not None:
        return verdict
    if acl.patterns and any(
        wildcard in name for name in (client_id, username or "") for wildcard in _MQTT_WILDCARDS
    ):
        return False  # Mosquitto's defence against ids that would widen the patterns

    def substitute(pattern: str) -> str | None:
        if USERNAME in pattern and username is None:
            return None
        names = {CLIENT_ID: client_id, USERNAME: username or ""}
        return _SUBSTITUTION.sub(lambda found: names[found.group()], pattern)

    return bool(_verdict(acl.patterns, access, topic, substitute))


def _verdict(
    rules: Iterable[AclRule], access: Access, topic: str, expand: Callable[[str], str | None]
) -> bool | None:
    """Deny lines first, then the first line granting `access`; None if none decides."""
    for rule in sorted(rules, key=lambda rule: bool(rule.access)):
        topic_filter = expand(rule.topic)
        if topic_filter is None or not _matches(topic_filter, topic):
            continue
        if not rule.access:
            return False
        if access in rule.access:
            return True
    return None


def _matches(topic_filter: str, topic: str) -> bool:
    try:
        return matches(topic_filter, topic)
    except InvalidTopicError:
        return False  # e.g. `%c` with an empty client id: Mosquitto matches nothing
