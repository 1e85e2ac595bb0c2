"""Every MQTT topic of The Swan, built and parsed in one place, and MQTT filter matching.

Builders take names and return topic strings; parsers take a topic string and return the
names in it. A parser returns None for a topic outside its family (so a subscriber can route
by trying parsers in turn) and raises `InvalidTopicError` for a topic of its family whose
names break the AWS rules, because that is a bad request, not someone else's message.

Matching follows MQTT 3.1.1 / 5.0 section 4.7: `#` matches the rest of the topic including
its parent level, `+` matches exactly one level (even an empty one), and a filter that
starts with a wildcard never matches a topic that starts with `$`. What AWS IoT Core's broker
delivers to a subscription differs in one way (`reaches`): its `#` never matches the parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Final

from swan.core import names
from swan.core.errors import InvalidThingNameError, InvalidTopicError

# ---------------------------------------------------------------- MQTT rules

MAX_TOPIC_BYTES: Final = 65535
"""MQTT strings carry a two-byte length prefix."""

AWS_MAX_TOPIC_BYTES: Final = 256
AWS_MAX_TOPIC_SLASHES: Final = 7
AWS_RESERVED_PREFIX: Final = "$aws/"

SEPARATOR: Final = "/"
SINGLE_LEVEL: Final = "+"
MULTI_LEVEL: Final = "#"
_WILDCARDS: Final = frozenset((SINGLE_LEVEL, MULTI_LEVEL))


def _check_mqtt_string(name: str) -> None:
    if not name:
        raise InvalidTopicError(name, "must not be empty")
    if "\0" in name:
        raise InvalidTopicError(name, "must not contain NUL")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidTopicError(name, "is not valid UTF-8") from None
    if size > MAX_TOPIC_BYTES:
        raise InvalidTopicError(name, f"is {size} bytes, MQTT allows {MAX_TOPIC_BYTES}")


def validate_topic(name: str) -> None:
    """Raise `InvalidTopicError` unless `name` is a valid MQTT topic name (for a publish)."""
    _check_mqtt_string(name)
    if SINGLE_LEVEL in name or MULTI_LEVEL in name:
        raise InvalidTopicError(name, "a topic name must not contain the wildcards + or #")


def validate_filter(topic_filter: str) -> None:
    """Raise `InvalidTopicError` unless `topic_filter` is a valid MQTT topic filter."""
    _check_mqtt_string(topic_filter)
    levels = topic_filter.split(SEPARATOR)
    for index, level in enumerate(levels):
        if MULTI_LEVEL in level and (level != MULTI_LEVEL or index != len(levels) - 1):
            raise InvalidTopicError(topic_filter, "# must be the whole last level")
        if SINGLE_LEVEL in level and level != SINGLE_LEVEL:
            raise InvalidTopicError(topic_filter, "+ must be a whole level")


def validate_aws_limits(name: str) -> None:
    """Raise `InvalidTopicError` if AWS IoT Core would refuse this topic name or filter.

    AWS allows 256 bytes and 7 slashes. Its own reserved `$aws/` topics are exempt from
    the slash count (a named shadow's `update/accepted` has 8), so they are too.
    """
    _check_mqtt_string(name)
    size = len(name.encode("utf-8"))
    if size > AWS_MAX_TOPIC_BYTES:
        raise InvalidTopicError(name, f"is {size} bytes, AWS IoT allows {AWS_MAX_TOPIC_BYTES}")
    slashes = name.count(SEPARATOR)
    if slashes > AWS_MAX_TOPIC_SLASHES and not name.startswith(AWS_RESERVED_PREFIX):
        raise InvalidTopicError(
            name, f"has {slashes} slashes, AWS IoT allows {AWS_MAX_TOPIC_SLASHES}"
        )


def matches(topic_filter: str, topic: str) -> bool:
    """Tell whether a message published on `topic` reaches a subscription to `topic_filter`."""
    validate_filter(topic_filter)
    validate_topic(topic)
    # Server topics ($SYS, $aws) must be asked for by name, never caught by a wildcard.
    if topic.startswith("$") and topic_filter[0] in _WILDCARDS:
        return False
    topic_levels = topic.split(SEPARATOR)
    filter_levels = topic_filter.split(SEPARATOR)
    for index, wanted in enumerate(filter_levels):
        if wanted == MULTI_LEVEL:
            return True
        if index >= len(topic_levels):
            return False
        if wanted not in (SINGLE_LEVEL, topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


SHARED_PREFIX: Final = "$share/"
"""A shared subscription's filter: `$share/<group>/<filter>`."""


def reaches(topic_filter: str, topic: str) -> bool:
    """Tell whether AWS IoT Core's message broker sends a message published on `topic` to a
    subscription to `topic_filter`. As `matches`, except that `#` stands for one level or
    more: `sensor/#` reaches `sensor/` and `sensor/temperature`, "However, the parent topic is
    not matched" (`sensor`; AWS IoT differences from MQTT specifications, mqtt.html). A shared
    subscription reaches what its filter does. Raises `InvalidTopicError` as `matches` does."""
    if topic_filter.startswith(SHARED_PREFIX):
        _, _, topic_filter = topic_filter[len(SHARED_PREFIX) :].partition(SEPARATOR)
    if not matches(topic_filter, topic):
        return False
    return not topic_filter.endswith(MULTI_LEVEL) or (
        topic.count(SEPARATOR) >= topic_filter.count(SEPARATOR)
    )


# ---------------------------------------------------------------- names


def validate_thing_name(thing: str) -> None:
    """Raise `InvalidTopicError` unless `thing` is a valid AWS IoT thing name (the check is
    swan.core.names.check_thing_name: a topic naming a bad thing is a bad topic)."""
    try:
        names.check_thing_name(thing)
    except InvalidThingNameError as error:
        raise InvalidTopicError(thing, f"not a thing name: {error.problem}") from error


def validate_shadow_name(shadow_name: str) -> None:
    """Raise `InvalidTopicError` unless `shadow_name` is a valid AWS named-shadow name."""
    if not names.SHADOW_NAME.fullmatch(shadow_name):
        raise InvalidTopicError(shadow_name, "a shadow name is 1-64 of a-z A-Z 0-9 $ : _ -")


def validate_button_serial(serial: str) -> None:
    """Raise `InvalidTopicError` unless `serial` looks like an AWS IoT Button DSN."""
    if not names.BUTTON_SERIAL.fullmatch(serial):
        raise InvalidTopicError(serial, "a button serial is 1-64 letters and digits")


def validate_identity_id(identity_id: str) -> None:
    """Raise `InvalidTopicError` unless `identity_id` is a Cognito identity id."""
    if not names.COGNITO_IDENTITY_ID.fullmatch(identity_id):
        raise InvalidTopicError(identity_id, "a Cognito identity id is <region>:<uuid>")


def validate_certificate_id(certificate_id: str) -> None:
    """Raise `InvalidTopicError` unless `certificate_id` is an AWS certificate id."""
    if not names.CERTIFICATE_ID.fullmatch(certificate_id):
        raise InvalidTopicError(certificate_id, "a certificate id is 64 lowercase hex digits")


def _join(*levels: str) -> str:
    return SEPARATOR.join(levels)


_ANY_LEVEL: Final = r"[^/]*"
"""Parsers capture a whole level, even an invalid one, so that the validators can say why."""


def _one_of(values: type[StrEnum]) -> str:
    return "|".join(re.escape(value) for value in values)


# ---------------------------------------------------------------- AWS IoT Button clicks

BUTTON_THING: Final = "button"
"""The thing whose classic shadow holds the one shared countdown."""

_BUTTON_PREFIX: Final = "iotbutton"
BUTTON_CLICKS: Final = _join(_BUTTON_PREFIX, SINGLE_LEVEL)
_BUTTON_TOPIC: Final = re.compile(rf"{_BUTTON_PREFIX}/(?P<serial>{_ANY_LEVEL})")


def button_topic(serial: str) -> str:
    """The topic an AWS IoT Button with this serial (DSN) publishes its clicks on."""
    validate_button_serial(serial)
    return _join(_BUTTON_PREFIX, serial)


def parse_button_topic(topic: str) -> str | None:
    """The serial of the button that published on `topic`, or None for another topic."""
    found = _BUTTON_TOPIC.fullmatch(topic)
    if found is None:
        return None
    validate_button_serial(found["serial"])
    return found["serial"]


# ---------------------------------------------------------------- push requests


class PushOutcome(StrEnum):
    """How the push handler answered a push request."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


WEB_IDENTITIES: Final = "web"
"""The level under `swan/push/` that holds browsers' Cognito identities' push topics
(`swan/push/web/<identity id>`), a sender of none. No thing is named so: its push topic
would be the identities' prefix, and its policy's `swan/push/<itself>/*` their answers."""

_PUSH_PREFIX: Final = "swan/push"
PUSH_REQUESTS: Final = _join(_PUSH_PREFIX, SINGLE_LEVEL)
PUSH_REPLIES: Final = _join(_PUSH_PREFIX, SINGLE_LEVEL, SINGLE_LEVEL)
_PUSH_TOPIC: Final = re.compile(
    rf"{_PUSH_PREFIX}/(?P<sender>{_ANY_LEVEL})(?:/(?P<outcome>{_one_of(PushOutcome)}))?"
)


@dataclass(frozen=True)
class PushTopic:
    """A parsed push topic: who sent the request, and the outcome if it is a reply.

    `identity` says the sender is a browser's Cognito identity (its id is `sender`), which
    pushes on `swan/push/web/<identity id>`: a topic its role lets only that identity use.
    """

    sender: str
    outcome: PushOutcome | None = None
    identity: bool = False

    @property
    def request(self) -> str:
        """The topic the sender's push requests go on."""
        return identity_push_topic(self.sender) if self.identity else push_topic(self.sender)

    def reply(self, outcome: PushOutcome) -> str:
        """The topic the answer to the sender's push request goes on."""
        return _join(self.request, outcome)


def push_topic(sender: str) -> str:
    """The topic the device `sender` (its thing name) publishes pushes on."""
    validate_thing_name(sender)
    return _join(_PUSH_PREFIX, sender)


def push_reply_topic(sender: str, outcome: PushOutcome) -> str:
    """The topic the answer to `sender`'s push request is published on."""
    return _join(push_topic(sender), outcome)


# A browser's identity pushes on `swan/push/web/<identity id>`, one level below where a
# device's push topic would be; `swan/push/web` itself is nobody's.
_IDENTITY_PREFIX: Final = _join(_PUSH_PREFIX, WEB_IDENTITIES)
IDENTITY_PUSH_REQUESTS: Final = _join(_IDENTITY_PREFIX, SINGLE_LEVEL)
_IDENTITY_PUSH_TOPIC: Final = re.compile(
    rf"{_IDENTITY_PREFIX}/(?P<sender>{_ANY_LEVEL})(?:/(?P<outcome>{_one_of(PushOutcome)}))?"
)


def identity_push_topic(identity_id: str) -> str:
    """The topic a browser's Cognito identity publishes its pushes on."""
    validate_identity_id(identity_id)
    return _join(_IDENTITY_PREFIX, identity_id)


def parse_push_topic(topic: str) -> PushTopic | None:
    """Parse a push request or reply topic (a device's or an identity's); None for any
    other topic (`swan/push/web` too: that level is the identities', no device's)."""
    if (found := _PUSH_TOPIC.fullmatch(topic)) and found["sender"] != WEB_IDENTITIES:
        validate_thing_name(found["sender"])
        identity = False
    elif found := _IDENTITY_PUSH_TOPIC.fullmatch(topic):
        validate_identity_id(found["sender"])
        identity = True
    else:
        return None
    outcome = None if found["outcome"] is None else PushOutcome(found["outcome"])
    return PushTopic(found["sender"], outcome, identity=identity)


# ---------------------------------------------------------------- device shadows


class ShadowOperation(StrEnum):
    """A request a client publishes to a shadow."""

    GET = "get"
    UPDATE = "update"
    DELETE = "delete"


class ShadowResponse(StrEnum):
    """A message the shadow service publishes after a request."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DELTA = "delta"
    DOCUMENTS = "documents"


_ANSWERS: Final = frozenset((ShadowResponse.ACCEPTED, ShadowResponse.REJECTED))
_RESPONSES: Final = {
    ShadowOperation.GET: _ANSWERS,
    ShadowOperation.UPDATE: frozenset(ShadowResponse),
    ShadowOperation.DELETE: _ANSWERS,
}

_THINGS_PREFIX: Final = "$aws/things"
_SHADOW: Final = "shadow"
_NAMED: Final = "name"

SHADOW_REQUESTS: Final = _join(_THINGS_PREFIX, SINGLE_LEVEL, _SHADOW, SINGLE_LEVEL)
"""Every request to every classic shadow (get, update, delete)."""

NAMED_SHADOW_REQUESTS: Final = _join(
    _THINGS_PREFIX, SINGLE_LEVEL, _SHADOW, _NAMED, SINGLE_LEVEL, SINGLE_LEVEL
)
"""Every request to every named shadow."""

_SHADOW_TOPIC: Final = re.compile(
    # A classic operation is never called "name", so the two forms cannot be confused.
    rf"{re.escape(_THINGS_PREFIX)}/(?P<thing>{_ANY_LEVEL})/{_SHADOW}"
    rf"(?:/{_NAMED}/(?P<shadow_name>{_ANY_LEVEL}))?"
    rf"/(?P<operation>{_one_of(ShadowOperation)})"
    rf"(?:/(?P<response>{_one_of(ShadowResponse)}))?"
)


DOCUMENTS_QOS: Final = 0
"""The QoS at which a follower subscribes to a shadow's `update/documents` (the page, the Pi,
`swan up`'s console, the button emulator's check): 0, at most once.

Each documents message carries the whole state, so the next one makes up for any missed.
Every follower connects with a clean session and reads the whole document (`get`) each time
it connects; and on a live connection MQTT runs over TCP, which loses nothing. QoS 1 would
add nothing a clean session keeps (an unacknowledged message is not sent again on the next
connection) and would cost one PUBACK per follower per push, each crossing the broker and,
locally, a door: 10,000 of them a push at 10,000 viewers. AWS says QoS 0 "should be used for
messages that are sent over reliable communication links or that can be missed without a
problem" (AWS IoT developer guide, MQTT, quality of service). The page has its own copy of
this number (`DOCUMENTS_QOS` in webapp/components/swan_link.jsx); a test holds the two equal.
"""


def _check_shadow(thing: str, shadow_name: str | None) -> None:
    validate_thing_name(thing)
    if shadow_name is not None:
        validate_shadow_name(shadow_name)


def _check_response(operation: ShadowOperation, response: ShadowResponse | None) -> None:
    if response is not None and response not in _RESPONSES[operation]:
        topic = _join(operation, response)
        raise InvalidTopicError(topic, f"a shadow {operation} has no {response} response")


@dataclass(frozen=True)
class ShadowTopics:
    """Every topic of one shadow: the classic one, or a named one if `shadow_name` is set.
    Each named topic is built once per shadow (clients check them on every message)."""

    thing: str
    shadow_name: str | None = None

    def __post_init__(self) -> None:
        _check_shadow(self.thing, self.shadow_name)

    @cached_property
    def prefix(self) -> str:
        classic = _join(_THINGS_PREFIX, self.thing, _SHADOW)
        if self.shadow_name is None:
            return classic
        return _join(classic, _NAMED, self.shadow_name)

    def topic(self, operation: ShadowOperation, response: ShadowResponse | None = None) -> str:
        """The request topic of `operation`, or the topic of one of its responses."""
        _check_response(operation, response)
        if response is None:
            return _join(self.prefix, operation)
        return _join(self.prefix, operation, response)

    @cached_property
    def get(self) -> str:
        return self.topic(ShadowOperation.GET)

    @cached_property
    def get_accepted(self) -> str:
        return self.topic(ShadowOperation.GET, ShadowResponse.ACCEPTED)

    @cached_property
    def get_rejected(self) -> str:
        return self.topic(ShadowOperation.GET, ShadowResponse.REJECTED)

    @cached_property
    def update(self) -> str:
        return self.topic(ShadowOperation.UPDATE)

    @cached_property
    def update_accepted(self) -> str:
        return self.topic(ShadowOperation.UPDATE, ShadowResponse.ACCEPTED)

    @cached_property
    def update_rejected(self) -> str:
        return self.topic(ShadowOperation.UPDATE, ShadowResponse.REJECTED)

    @cached_property
    def update_delta(self) -> str:
        return self.topic(ShadowOperation.UPDATE, ShadowResponse.DELTA)

    @cached_property
    def update_documents(self) -> str:
        return self.topic(ShadowOperation.UPDATE, ShadowResponse.DOCUMENTS)

    @cached_property
    def delete(self) -> str:
        return self.topic(ShadowOperation.DELETE)

    @cached_property
    def delete_accepted(self) -> str:
        return self.topic(ShadowOperation.DELETE, ShadowResponse.ACCEPTED)

    @cached_property
    def delete_rejected(self) -> str:
        return self.topic(ShadowOperation.DELETE, ShadowResponse.REJECTED)


BUTTON_SHADOW: Final = ShadowTopics(BUTTON_THING)


@dataclass(frozen=True)
class ShadowTopic:
    """One parsed shadow topic: a request if `response` is None, else a response to one."""

    thing: str
    shadow_name: str | None
    operation: ShadowOperation
    response: ShadowResponse | None = None

    def __post_init__(self) -> None:
        _check_shadow(self.thing, self.shadow_name)
        _check_response(self.operation, self.response)

    @property
    def topics(self) -> ShadowTopics:
        """All topics of the same shadow."""
        return ShadowTopics(self.thing, self.shadow_name)

    @property
    def is_request(self) -> bool:
        return self.response is None

    @property
    def topic(self) -> str:
        return self.topics.topic(self.operation, self.response)

    def reply(self, response: ShadowResponse) -> str:
        """The topic on which the shadow service answers this request with `response`."""
        return self.topics.topic(self.operation, response)


def parse_shadow_topic(topic: str) -> ShadowTopic | None:
    """Parse a classic or named shadow topic; None for any other topic.

    Raises `InvalidTopicError` for a shadow topic whose thing or shadow name is invalid.
    """
    found = _SHADOW_TOPIC.fullmatch(topic)
    if found is None:
        return None
    operation = ShadowOperation(found["operation"])
    response = None if found["response"] is None else ShadowResponse(found["response"])
    if response is not None and response not in _RESPONSES[operation]:
        return None  # e.g. get/delta: shaped like a shadow topic, but AWS has no such topic
    return ShadowTopic(found["thing"], found["shadow_name"], operation, response)


# ---------------------------------------------------------------- JITR events

_JITR_PREFIX: Final = "$aws/events/certificates/registered"
JITR_EVENTS: Final = _join(_JITR_PREFIX, SINGLE_LEVEL)
_JITR_TOPIC: Final = re.compile(rf"{re.escape(_JITR_PREFIX)}/(?P<ca>{_ANY_LEVEL})")


def jitr_topic(ca_certificate_id: str) -> str:
    """The topic AWS IoT announces a new device cert signed by this CA on (JITR)."""
    validate_certificate_id(ca_certificate_id)
    return _join(_JITR_PREFIX, ca_certificate_id)


def parse_jitr_topic(topic: str) -> str | None:
    """The CA certificate id of a JITR event topic, or None for any other topic."""
    found = _JITR_TOPIC.fullmatch(topic)
    if found is None:
        return None
    validate_certificate_id(found["ca"])
    return found["ca"]
