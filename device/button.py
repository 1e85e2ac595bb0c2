"""The AWS IoT Button, emulated: one click is one MQTT publish of the hardware's payload.

The button connects with mutual TLS as its serial number (its thing name and client id),
publishes `{"serialNumber", "clickType", "batteryVoltage"}` on `iotbutton/<serial>` at
QoS 1, as the real button does, and, if asked, waits for the button shadow's next
document: a topic rule runs the push handler, which restarts the countdown. A new button's
first connection is refused while it is registered just in time; the retries carry it in.
"""

from __future__ import annotations

import json
import queue
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.mqtt import connect_retrying
from swan.core.codecs import ShadowDocuments
from swan.core.topics import BUTTON_SHADOW, DOCUMENTS_QOS, button_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from swan.adapters.mqtt import Endpoint, MqttError
    from swan.core.codecs import ButtonClick

PUBLISH_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class Pressed:
    """What a click did: what went where, and the button shadow's reported state after it
    (None: not asked, or no new document within the wait)."""

    topic: str
    payload: str
    reported: Mapping[str, Any] | None


def press(
    endpoint: Endpoint,
    click: ButtonClick,
    *,
    attempts: int = 6,
    confirm_within: float | None = 5.0,
    on_retry: Callable[[int, MqttError], None] | None = None,
) -> Pressed:
    """Click once; with `confirm_within`, wait that long for the shadow to show it."""
    transport = connect_retrying(endpoint, attempts=max(1, attempts), on_retry=on_retry)
    try:
        documents: queue.Queue[bytes] = queue.Queue()
        if confirm_within is not None:
            transport.subscribe(
                BUTTON_SHADOW.update_documents,
                lambda m: documents.put(m.payload),
                qos=DOCUMENTS_QOS,
            )
        topic = button_topic(click.serial_number)
        payload = json.dumps(click.to_payload())
        transport.publish(topic, payload.encode()).result(PUBLISH_TIMEOUT)
        if confirm_within is None:
            return Pressed(topic, payload, None)
        try:
            raw = documents.get(timeout=confirm_within)
        except queue.Empty:
            return Pressed(topic, payload, None)
        return Pressed(topic, payload, ShadowDocuments.from_payload(raw).current.reported)
    finally:
        transport.close()
