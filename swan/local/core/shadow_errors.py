"""The error vocabulary of the AWS Device Shadow service, as pure values.

A `Rejection` is what the service answers instead of accepting: over MQTT its `to_payload`
goes to the `/rejected` topic, over HTTP its `code` is the status and `error_type` the
botocore iot-data exception name. Codes and messages are AWS's own
(device-shadow-error-messages.md); `shadow.py` decides which one applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from swan.core.jsondoc import JsonObject


class InvalidShadowKeyError(SwanError, ValueError):
    """A thing or shadow name breaks the AWS naming rules."""

    def __init__(self, what: str, value: object, rule: str) -> None:
        self.what = what
        self.value = value
        self.rule = rule
        super().__init__(f"invalid {what} {value!r}: must be {rule}")


_ERROR_TYPES: Final = {
    400: "InvalidRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "ResourceNotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
    415: "UnsupportedDocumentEncodingException",
    429: "ThrottlingException",
    500: "InternalFailureException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}


@dataclass(frozen=True)
class Rejection:
    """An AWS shadow error: the `/rejected` payload over MQTT, the error over HTTP."""

    code: int
    message: str
    client_token: str | None = None

    def __post_init__(self) -> None:
        if self.code not in _ERROR_TYPES:
            raise ValueError(f"no AWS shadow error has code {self.code}")

    @property
    def error_type(self) -> str:
        """The botocore iot-data exception name for this code (the HTTP API's error type)."""
        return _ERROR_TYPES[self.code]

    def with_token(self, client_token: str | None) -> Rejection:
        return replace(self, client_token=client_token)

    def to_payload(self, now: float) -> JsonObject:
        payload: JsonObject = {"code": self.code, "message": self.message, "timestamp": int(now)}
        if self.client_token is not None:
            payload["clientToken"] = self.client_token
        return payload


class ShadowRejectedError(SwanError):
    """Raised by adapters that prefer exceptions; carries the rejection unchanged."""

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        super().__init__(f"shadow request rejected: {rejection.code} {rejection.message}")


INVALID_JSON: Final = Rejection(400, "Invalid JSON")
MISSING_STATE: Final = Rejection(400, "Missing required node: state")
STATE_NOT_OBJECT: Final = Rejection(400, "State node must be an object")
DESIRED_NOT_OBJECT: Final = Rejection(400, "Desired node must be an object")
REPORTED_NOT_OBJECT: Final = Rejection(400, "Reported node must be an object")
INVALID_VERSION: Final = Rejection(400, "Invalid version")
INVALID_CLIENT_TOKEN: Final = Rejection(400, "Invalid clientToken")
TOO_DEEP: Final = Rejection(400, "JSON contains too many levels of nesting; maximum is 6")
INVALID_STATE_NODE: Final = Rejection(400, "State contains an invalid node")
# AWS documents that arrays holding null are rejected but not with which message; none was
# found (docs, issues, pages searched), so this uses the generic 400 message.
NULL_IN_ARRAY: Final = INVALID_JSON
UNAUTHORIZED: Final = Rejection(401, "Unauthorized")
FORBIDDEN: Final = Rejection(403, "Forbidden")
VERSION_CONFLICT: Final = Rejection(409, "Version conflict")
TOO_LARGE: Final = Rejection(413, "The payload exceeds the maximum size allowed")
NOT_UTF8: Final = Rejection(415, "Unsupported documented encoding; supported encoding is UTF-8")
# Over a thing's request rate or in-flight limit (swan.local.core.shadow_throttle). AWS documents
# when 429 happens but gives no 429 text; this is botocore's usual one.
THROTTLED: Final = Rejection(429, "Rate exceeded")
INTERNAL_FAILURE: Final = Rejection(500, "Internal service failure")


def not_found(shadow_name: str, client_token: str | None = None) -> Rejection:
    """404 for a shadow that was never created or was deleted; see ShadowKey.display_name."""
    return Rejection(404, f"No shadow exists with name: '{shadow_name}'", client_token)
