"""AWS IoT Device Shadow document semantics, pure: the local shadow service and tests use it.

The specification is the AWS IoT Device Shadow developer guide (document structure, delta
rules, versions, MQTT topics, error messages, limits). Callers pass raw request bytes and
`now` (epoch seconds) and get back either the exact payloads AWS would publish or a
`Rejection` carrying AWS's error code and message. Nothing here does I/O, logs or reads a
clock.

Choices where the AWS documentation is silent (each pinned by a test):
- Checks run in this order: message size, UTF-8, JSON, clientToken, version type, state
  shape, nesting, nulls in arrays, version conflict, merged size. A request that is wrong in
  two ways gets the first rejection.
- `/update/documents` for a shadow that did not exist (never created, or deleted) carries
  `"previous": null`, as the live service does (aws/aws-iot-device-sdk-js-v2 shadow sample
  README output, and nRF Cloud's captured `update/documents` payloads, both show
  `{"previous":null,"current":{...,"version":1},...}`).
- The accepted `metadata` stamps every field of the request, nulls included, so
  `{"state": null}` gets `"metadata": {"timestamp": t}` (the live response quoted in
  getmoto/moto#9237).
- Shadow size: the compact UTF-8 JSON of `desired` plus that of `reported` (as the AWS
  Greengrass shadow manager sums them); metadata never counts.
- Nesting: `desired`/`reported` itself is level 1 and every object or array inside adds one;
  6 levels pass, 7 are rejected (AWS sources say 5, 6 or 8; its error message says 6).
- An array holding null anywhere inside gets 400 "Invalid JSON": AWS says it is rejected but
  names no message.
- Empty objects: see `jsondoc.merge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.core import names
from swan.core.errors import InvalidPayloadError, InvalidThingNameError
from swan.core.jsondoc import (
    JsonDecodeFailedError,
    JsonObject,
    array_contains_null,
    compact_size,
    decode_json,
    delta,
    merge,
    nesting_exceeds,
    stamp,
)
from swan.local.core.shadow_errors import (
    DESIRED_NOT_OBJECT,
    INVALID_CLIENT_TOKEN,
    INVALID_JSON,
    INVALID_STATE_NODE,
    INVALID_VERSION,
    MISSING_STATE,
    NOT_UTF8,
    NULL_IN_ARRAY,
    REPORTED_NOT_OBJECT,
    STATE_NOT_OBJECT,
    TOO_DEEP,
    TOO_LARGE,
    VERSION_CONFLICT,
    InvalidShadowKeyError,
    Rejection,
    ShadowRejectedError,
    not_found,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

# The types in this module's signatures are re-exported; the Rejection constants (400-503)
# are imported from swan.local.core.shadow_errors.
__all__ = [
    "MAX_CLIENT_TOKEN_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_NESTING_LEVELS",
    "MAX_SHADOW_BYTES",
    "DeleteAccepted",
    "InvalidShadowKeyError",
    "Rejection",
    "ShadowKey",
    "ShadowRejectedError",
    "StoredShadow",
    "UpdateAccepted",
    "apply_delete",
    "apply_update",
    "get_document",
    "parse_request_token",
]

SECTIONS: Final = ("desired", "reported")
# Every PUBLISH payload is limited to 128 KB and larger messages are rejected (AWS IoT Core
# quotas, message broker: https://docs.aws.amazon.com/general/latest/gr/iot-core.html
# #message-broker-limits); the HTTP data plane takes no more (dataplane refuses a larger
# Content-Length without reading the body).
MAX_MESSAGE_BYTES: Final = 128 * 1024
# "The device's shadow supports 8 KB of data only ... Only the data for desired and reported
# state inside the state document ... counts toward the limit" (diagnosing-shadows.html;
# quotas page, Device Shadow: "Maximum size of a JSON state document").
MAX_SHADOW_BYTES: Final = 8192
# device-shadow-error-messages.html: "JSON contains too many levels of nesting; maximum is 6"
# (see jsondoc.nesting_exceeds for how levels are counted), and "A client token that is longer
# than 64 bytes will cause this response" (400 "Invalid clientToken").
MAX_NESTING_LEVELS: Final = 6
MAX_CLIENT_TOKEN_BYTES: Final = 64


# ---------------------------------------------------------------------------- names


@dataclass(frozen=True)
class ShadowKey:
    """Which shadow: a thing's classic shadow (`name` None) or one of its named shadows."""

    thing: str
    name: str | None = None

    def __post_init__(self) -> None:
        try:
            names.check_thing_name(self.thing)
        except InvalidThingNameError as error:
            raise InvalidShadowKeyError("thing name", self.thing, error.problem) from error
        if self.name is not None and not names.SHADOW_NAME.fullmatch(self.name):
            raise InvalidShadowKeyError("shadow name", self.name, "1-64 of [$a-zA-Z0-9:_-]")

    @property
    def display_name(self) -> str:
        """The name AWS puts in its 404 message: the shadow name, or the thing's for classic."""
        return self.thing if self.name is None else self.name


_SECTION_NOT_OBJECT: Final = {"desired": DESIRED_NOT_OBJECT, "reported": REPORTED_NOT_OBJECT}


# ---------------------------------------------------------------------------- the stored shadow


@dataclass(frozen=True)
class StoredShadow:
    """What a store persists for one shadow. A section that is None is absent.

    A deleted shadow keeps its version (an update after a delete continues from it) and
    nothing else. The dicts inside are shared, never mutated: treat them as read-only.
    """

    desired: JsonObject | None = None
    reported: JsonObject | None = None
    desired_metadata: JsonObject | None = None
    reported_metadata: JsonObject | None = None
    version: int = 0
    deleted: bool = False

    @property
    def state(self) -> JsonObject:
        """`{"desired"?, "reported"?}`: the sections that exist."""
        return _present({"desired": self.desired, "reported": self.reported})

    @property
    def metadata(self) -> JsonObject:
        """`{"desired"?, "reported"?}` metadata of the sections that exist."""
        return _present({"desired": self.desired_metadata, "reported": self.reported_metadata})

    def to_json(self) -> JsonObject:
        """A JSON-serialisable dict for a store; `from_json` reads it back."""
        return {
            "state": self.state,
            "metadata": self.metadata,
            "version": self.version,
            "deleted": self.deleted,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredShadow:
        """Read `to_json` output back; raises InvalidPayloadError naming the bad field."""
        version = data.get("version")
        if type(version) is not int or version < 0:
            raise InvalidPayloadError("stored shadow", "version", "must be an integer >= 0")
        deleted = data.get("deleted")
        if not isinstance(deleted, bool):
            raise InvalidPayloadError("stored shadow", "deleted", "must be a boolean")
        state = _stored_sections(data, "state")
        metadata = _stored_sections(data, "metadata")
        if state.keys() != metadata.keys():
            raise InvalidPayloadError("stored shadow", "metadata", "must mirror state")
        return _from_trees(state, metadata, version=version, deleted=deleted)


def _from_trees(
    state: Mapping[str, Any], metadata: Mapping[str, Any], *, version: int, deleted: bool
) -> StoredShadow:
    return StoredShadow(
        desired=state.get("desired"),
        reported=state.get("reported"),
        desired_metadata=metadata.get("desired"),
        reported_metadata=metadata.get("reported"),
        version=version,
        deleted=deleted,
    )


def _stored_sections(data: Mapping[str, Any], name: str) -> JsonObject:
    tree = data.get(name)
    if not isinstance(tree, dict) or not set(tree) <= set(SECTIONS):
        raise InvalidPayloadError("stored shadow", name, "must be an object of desired/reported")
    if not all(isinstance(section, dict) for section in tree.values()):
        raise InvalidPayloadError("stored shadow", name, "sections must be objects")
    return tree


def _present(sections: Mapping[str, JsonObject | None]) -> JsonObject:
    return {name: section for name, section in sections.items() if section is not None}


def _live(current: StoredShadow | None) -> StoredShadow | None:
    return current if current is not None and not current.deleted else None


def _current_version(current: StoredShadow | None) -> int:
    # A shadow that never existed is at version 0; a deleted one keeps the version it had.
    return 0 if current is None else current.version


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class UpdateAccepted:
    """An accepted update: the shadow to store and the payloads to publish.

    `accepted` goes to `/update/accepted` (and is the HTTP response), `documents` to
    `/update/documents`, `delta` (when not None) to `/update/delta`.
    """

    shadow: StoredShadow
    accepted: JsonObject
    delta: JsonObject | None
    documents: JsonObject


@dataclass(frozen=True)
class DeleteAccepted:
    """An accepted delete: the (deleted) shadow to store and the `/delete/accepted` payload."""

    shadow: StoredShadow
    accepted: JsonObject


@dataclass(frozen=True)
class _UpdateRequest:
    state: JsonObject | None
    version: int | None = None
    client_token: str | None = None


# ---------------------------------------------------------------------------- operations


def apply_update(
    current: StoredShadow | None, payload: bytes, *, now: float
) -> UpdateAccepted | Rejection:
    """Handle an update request (`/update` or UpdateThingShadow) against `current`."""
    request = _parse_update(payload)
    if isinstance(request, Rejection):
        return request
    token = request.client_token
    version = _current_version(current)
    if request.version is not None and request.version != version:
        return VERSION_CONFLICT.with_token(token)
    live = _live(current)
    before = live or StoredShadow()
    timestamp = int(now)
    if request.state is None:
        state: JsonObject = {}
        metadata: JsonObject = {}
    else:
        state, metadata = merge(before.state, before.metadata, request.state, timestamp)
    if sum(compact_size(section) for section in state.values()) > MAX_SHADOW_BYTES:
        return TOO_LARGE.with_token(token)
    after = _from_trees(state, metadata, version=version + 1, deleted=False)
    accepted = {
        "state": request.state,
        "metadata": stamp(request.state, timestamp),
        "version": after.version,
        "timestamp": timestamp,
    }
    documents = {
        "previous": None if live is None else _snapshot(live),
        "current": _snapshot(after),
        "timestamp": timestamp,
    }
    return UpdateAccepted(
        shadow=after,
        accepted=_with_token(accepted, token),
        delta=_delta_payload(after, timestamp, token),
        documents=_with_token(documents, token),
    )


def get_document(
    current: StoredShadow | None, *, key: ShadowKey, now: float, client_token: str | None = None
) -> JsonObject | Rejection:
    """The full document for `/get/accepted` or GetThingShadow, delta included."""
    live = _live(current)
    if live is None:
        return not_found(key.display_name, client_token)
    state = live.state
    differences = _differences(live)
    if differences is not None:
        state["delta"] = differences[0]
    document = {
        "state": state,
        "metadata": live.metadata,
        "version": live.version,
        "timestamp": int(now),
    }
    return _with_token(document, client_token)


def apply_delete(
    current: StoredShadow | None, *, key: ShadowKey, now: float, client_token: str | None = None
) -> DeleteAccepted | Rejection:
    """Delete the shadow (`/delete` or DeleteThingShadow); the version is kept, not reset."""
    live = _live(current)
    if live is None:
        return not_found(key.display_name, client_token)
    deleted = StoredShadow(version=live.version, deleted=True)
    accepted = {"version": live.version, "timestamp": int(now)}
    return DeleteAccepted(shadow=deleted, accepted=_with_token(accepted, client_token))


def parse_request_token(payload: bytes) -> str | Rejection | None:
    """The optional clientToken of a `/get` or `/delete` request; an empty payload has none."""
    if len(payload) > MAX_MESSAGE_BYTES:  # before anything else touches it
        return TOO_LARGE
    if not payload.strip():
        return None
    document = _decode_object(payload)
    if isinstance(document, Rejection):
        return document
    return _client_token(document)


# ---------------------------------------------------------------------------- request parsing


def _decode_object(payload: bytes) -> JsonObject | Rejection:
    # The size check comes first: the broker refuses an oversized message before anything
    # reads it.
    if len(payload) > MAX_MESSAGE_BYTES:
        return TOO_LARGE
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    try:
        document = decode_json(text)
    except JsonDecodeFailedError:
        return INVALID_JSON
    except RecursionError:
        # Deeper than Python's parser goes is certainly deeper than 6 levels.
        return TOO_DEEP
    return document if isinstance(document, dict) else INVALID_JSON


def _client_token(document: Mapping[str, Any]) -> str | Rejection | None:
    if "clientToken" not in document:
        return None
    token = document["clientToken"]
    if not isinstance(token, str):
        return INVALID_CLIENT_TOKEN
    if len(token.encode("utf-8", "surrogatepass")) > MAX_CLIENT_TOKEN_BYTES:
        return INVALID_CLIENT_TOKEN
    return token


def _parse_update(payload: bytes) -> _UpdateRequest | Rejection:
    document = _decode_object(payload)
    if isinstance(document, Rejection):
        return document
    token = _client_token(document)
    if isinstance(token, Rejection):
        return token
    problem = _version_problem(document) or _state_problem(document)
    if problem is not None:
        return problem.with_token(token)
    return _UpdateRequest(
        state=document["state"], version=document.get("version"), client_token=token
    )


def _version_problem(document: Mapping[str, Any]) -> Rejection | None:
    if "version" not in document:
        return None
    version = document["version"]
    # bool is an int in Python but not in JSON; 3.0 is a JSON number but not an integer.
    if type(version) is not int or version < 0:
        return INVALID_VERSION
    return None


def _state_problem(document: Mapping[str, Any]) -> Rejection | None:
    if "state" not in document:
        return MISSING_STATE
    state = document["state"]
    if state is None:
        return None
    if not isinstance(state, dict):
        return STATE_NOT_OBJECT
    if not set(state) <= set(SECTIONS):
        return INVALID_STATE_NODE
    return _sections_problem(state)


def _sections_problem(state: Mapping[str, Any]) -> Rejection | None:
    for name, section in state.items():
        if section is not None and not isinstance(section, dict):
            return _SECTION_NOT_OBJECT[name]
    sections = [section for section in state.values() if section is not None]
    # Depth first: the null search below recurses, so it only ever sees shallow trees.
    if any(nesting_exceeds(section, MAX_NESTING_LEVELS) for section in sections):
        return TOO_DEEP
    if any(array_contains_null(section) for section in sections):
        return NULL_IN_ARRAY
    return None


# ---------------------------------------------------------------------------- payloads


def _with_token(payload: JsonObject, client_token: str | None) -> JsonObject:
    # AWS echoes clientToken only when the request carried one.
    if client_token is not None:
        payload["clientToken"] = client_token
    return payload


def _snapshot(shadow: StoredShadow) -> JsonObject:
    return {"state": shadow.state, "metadata": shadow.metadata, "version": shadow.version}


def _differences(shadow: StoredShadow) -> tuple[JsonObject, JsonObject] | None:
    if shadow.desired is None:
        return None
    differences = delta(shadow.desired, shadow.reported or {}, shadow.desired_metadata or {})
    return differences if differences[0] else None


def _delta_payload(shadow: StoredShadow, timestamp: int, token: str | None) -> JsonObject | None:
    # Published after every accepted update that leaves desired != reported, listing every
    # difference, not only the ones this update touched.
    differences = _differences(shadow)
    if differences is None:
        return None
    state, metadata = differences
    payload = {
        "state": state,
        "metadata": metadata,
        "version": shadow.version,
        "timestamp": timestamp,
    }
    return _with_token(payload, token)
