"""A small stand-in for the shadow service that answers gets and keeps updates, as AWS's
would (versions included), and countdowns to push, for the Pi's unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swan.core.button_shadow import to_reported
from swan.core.countdown import Countdown, Push
from swan.core.topics import parse_shadow_topic

if TYPE_CHECKING:
    from swan.adapters.mqtt import MemoryBroker, Message

THING = "pi-test"
PERIOD = 6480.0


@dataclass
class Shadows:
    """Documents by thing: answers `get` (or 404), applies `update` (reported and desired)."""

    broker: MemoryBroker
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    answering: bool = True

    def attach(self) -> None:
        service = self.broker.connect("shadow-service")
        service.subscribe("$aws/things/+/shadow/get", self._get)
        service.subscribe("$aws/things/+/shadow/update", self._update)
        self.service = service

    def _get(self, message: Message) -> None:
        if not self.answering:
            return
        topic = parse_shadow_topic(message.topic)
        token = message.json().get("clientToken")
        thing = topic.thing
        if thing not in self.documents:
            reply = {"code": 404, "message": "No shadow", "timestamp": 1, "clientToken": token}
            self.service.publish(topic.reply("rejected"), json.dumps(reply).encode())
            return
        reply = {
            "state": self.documents[thing],
            "metadata": {},
            "version": self.versions[thing],
            "timestamp": 1,
            "clientToken": token,
        }
        self.service.publish(topic.reply("accepted"), json.dumps(reply).encode())

    def _update(self, message: Message) -> None:
        topic = parse_shadow_topic(message.topic)
        self.write(topic.thing, message.json()["state"])

    def write(self, thing: str, state: dict[str, Any], *, publish: bool = True) -> int:
        document = self.documents.setdefault(thing, {})
        for section, values in state.items():
            document.setdefault(section, {}).update(values)
        self.versions[thing] = self.versions.get(thing, 0) + 1
        version = self.versions[thing]
        desired, reported = document.get("desired", {}), document.get("reported", {})
        delta = {k: v for k, v in desired.items() if reported.get(k) != v}
        if publish and "desired" in state and delta:
            body = {"state": delta, "version": version, "timestamp": 1}
            self.service.publish(
                f"$aws/things/{thing}/shadow/update/delta", json.dumps(body).encode()
            )
        return version

    def push(self, countdown: Countdown) -> None:
        """The push handler wrote the button shadow: documents to every follower."""
        version = self.write("button", {"reported": to_reported(countdown)}, publish=False)
        body = {
            "previous": None,
            "current": {"state": {"reported": to_reported(countdown)}, "version": version},
            "timestamp": 1,
        }
        self.service.publish(
            "$aws/things/button/shadow/update/documents", json.dumps(body).encode()
        )

    def reported(self, thing: str = THING) -> dict[str, Any]:
        return self.documents.get(thing, {}).get("reported", {})


def counting(at: float, *, period: float = PERIOD, by: str = "someone", pushes: int = 1):
    return Countdown(
        period_seconds=period,
        deadline=at + period,
        phase="counting",
        last_push=Push(at=at, by=by, source="web"),
        pushes=pushes,
        run_started_at=at,
        failures=0,
        failed_at=None,
        updated_at=at,
    )
