"""The project's errors: one base, subclasses that also inherit the fitting builtin."""

from __future__ import annotations


class SwanError(Exception):
    """Base of every error The Swan raises on purpose."""


class InvalidPayloadError(SwanError, ValueError):
    """A message did not have the shape its codec expects.

    `field` names the offending field (a dotted path, or `payload` for the whole message).
    """

    def __init__(self, kind: str, field: str, problem: str) -> None:
        self.kind = kind
        self.field = field
        self.problem = problem
        super().__init__(f"invalid {kind}: {field}: {problem}")


class InvalidTopicError(SwanError, ValueError):
    """A topic or topic filter is not valid MQTT, or not one The Swan knows."""

    def __init__(self, topic: str, problem: str) -> None:
        self.topic = topic
        self.problem = problem
        super().__init__(f"invalid topic {topic!r}: {problem}")


class InvalidSettingError(SwanError, ValueError):
    """A configuration value is out of range or of the wrong kind."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        self.value = value
        self.problem = problem
        super().__init__(f"invalid setting {name}={value!r}: {problem}")


class InvalidThingNameError(SwanError, ValueError):
    """A name AWS IoT refuses as a thing name, or one a certificate's common name cannot hold.

    Raised by swan.core.names.check_thing_name, the one check (and by the certificate code
    for its own limit); the registry, the control plane, a topic and a shadow key map it to
    their own answers by type.
    """

    def __init__(self, thing_name: str, problem: str) -> None:
        self.thing_name = thing_name
        self.problem = problem
        super().__init__(f"invalid thing name {thing_name!r}: {problem}")
