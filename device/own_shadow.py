"""The Pi's own thing: its classic shadow's `reported` section, and its status topic.

`reported`: `online`, `firmware` (the package version), `display` (the matrix in use),
`brightness` and `lowLight` (as applied), `lastPushSeen` (the last push the Pi has shown).
`desired` may set `brightness` and `lowLight` (device.lights).

The status topic `swan/status/<thing>` carries the last will: AWS IoT Core does not publish
a will on a reserved (`$aws/...`) topic, so the will cannot update the shadow itself. Its
payload is a shadow update document, `{"state": {"reported": {"online": false}}}`, so the
template's `StatusRule` (`SELECT state FROM 'swan/status/+'`, republished to
`$$aws/things/${topic(3)}/shadow/update`) forwards it to the thing's shadow, on AWS and
locally. The Pi says it is online there too on every connect.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from swan.core.topics import validate_thing_name

if TYPE_CHECKING:
    from device.lights import Lights
    from swan.core.countdown import Push

_STATUS_PREFIX: Final = "swan/status"
STATUSES: Final = f"{_STATUS_PREFIX}/+"


def status_topic(thing: str) -> str:
    """Where `thing` says it is online, and where its last will says it is not."""
    validate_thing_name(thing)
    return f"{_STATUS_PREFIX}/{thing}"


def status_payload(*, online: bool) -> bytes:
    return json.dumps({"state": {"reported": {"online": online}}}).encode()


def reported(
    *,
    online: bool,
    firmware: str,
    display: str,
    lights: Lights,
    last_push: Push | None,
) -> dict[str, Any]:
    """The Pi's whole `reported` section."""
    return {
        "online": online,
        "firmware": firmware,
        "display": display,
        **lights.to_reported(),
        "lastPushSeen": None if last_push is None else push_seen(last_push),
    }


def push_seen(push: Push) -> dict[str, Any]:
    return {"at": push.at, "by": push.by, "source": push.source, "clickType": push.click_type}


def update_request(section: dict[str, Any], client_token: str) -> bytes:
    """A shadow update request reporting `section`."""
    return json.dumps({"state": {"reported": section}, "clientToken": client_token}).encode()


def get_request(client_token: str) -> bytes:
    return json.dumps({"clientToken": client_token}).encode()
