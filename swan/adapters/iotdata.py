"""The button shadow and reply publishing through the AWS IoT data plane (boto3 `iot-data`).

On AWS this talks to IoT Core; locally to the shadow service's HTTP API, chosen only by
`AWS_ENDPOINT_URL_IOT_DATA_PLANE`: the handler code is the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from swan.core.button_shadow import from_shadow_state, to_update
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from swan.core.countdown import Countdown


@dataclass(frozen=True)
class Snapshot:
    """The countdown as read, and the shadow version to check the next write against."""

    countdown: Countdown | None
    version: int | None  # None: there is no shadow yet


VERSION_CONFLICT_CODE = 409


class VersionConflictError(SwanError, RuntimeError):
    """Someone wrote the shadow since we read it."""

    def __init__(self, thing: str, version: int | None) -> None:
        self.thing = thing
        self.version = version
        super().__init__(f"shadow of {thing!r} changed since version {version}")


class ButtonShadow(Protocol):
    def read(self) -> Snapshot: ...

    def write(self, countdown: Countdown, version: int | None) -> int:
        """Write `countdown` if the shadow is still at `version`; returns the new version."""
        ...


class Publisher(Protocol):
    def publish(self, topic: str, payload: dict[str, Any]) -> None: ...


class IotDataShadow:
    """`ButtonShadow` over boto3's iot-data client."""

    def __init__(self, client: Any, thing: str) -> None:
        self._client = client
        self.thing = thing

    def read(self) -> Snapshot:
        try:
            response = self._client.get_thing_shadow(thingName=self.thing)
        except self._client.exceptions.ResourceNotFoundException:
            return Snapshot(None, None)
        document = json.loads(response["payload"].read())
        return Snapshot(from_shadow_state(document.get("state", {})), document["version"])

    def write(self, countdown: Countdown, version: int | None) -> int:
        request = to_update(countdown, version=version)
        try:
            response = self._client.update_thing_shadow(
                thingName=self.thing, payload=json.dumps(request).encode()
            )
        except self._client.exceptions.ConflictException:
            raise VersionConflictError(self.thing, version) from None
        return int(json.loads(response["payload"].read())["version"])


class IotDataPublisher:
    """`Publisher` over iot-data's Publish (QoS 1)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._client.publish(topic=topic, qos=1, payload=json.dumps(payload).encode())


class RecordingPublisher:
    """A `Publisher` that keeps what it was asked to publish, as the broker would get it
    (encoded the way IotDataPublisher encodes it: what cannot be sent fails here too)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.sent.append((topic, json.loads(json.dumps(payload).encode())))
