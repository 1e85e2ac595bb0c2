"""The push handler: IoT Button clicks and push requests -> the button shadow.

Thin on purpose: parse the event into a core type, let the core decide, hand the result to
the ports. The only loop is the coalescing one (see swan.core.coalesce).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swan.adapters.history import Duplicate
from swan.adapters.iotdata import Snapshot, VersionConflictError
from swan.core import topics
from swan.core.coalesce import Covered, WaitUntil, fold, plan_write
from swan.core.codecs import ButtonClick, PushAccepted, PushRejected, PushRequest
from swan.core.countdown import Countdown, Push, Refused, press
from swan.core.errors import InvalidPayloadError, InvalidTopicError, SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.handlers.ports import Ports

log = logging.getLogger(__name__)

# Enough for any burst: each round either writes, waits out a window or re-reads after a
# conflict; running out means something is badly wrong and Lambda should retry.
MAX_ROUNDS = 200


class WriteStarvedError(SwanError, RuntimeError):
    def __init__(self, number: int) -> None:
        super().__init__(f"push {number} was not written after {MAX_ROUNDS} rounds")


@dataclass(frozen=True)
class Written:
    """The push is in history and the shadow counts it."""

    countdown: Countdown
    number: int


def handle_event(event: Mapping[str, Any], ports: Ports) -> dict[str, Any]:
    """Entry point for both topic rules; the rule adds `topic() AS topic` to the event."""
    topic = str(event.get("topic", ""))
    try:
        serial = topics.parse_button_topic(topic)
        if serial is not None:
            return handle_click(serial, event, ports)
        push_topic = topics.parse_push_topic(topic)
        if push_topic is not None and push_topic.outcome is None:
            return handle_push_request(push_topic.sender, event, ports)
    except InvalidTopicError as error:
        log.warning("ignored a message on a bad topic: %s", error)
        ports.history.count("bad_topic")
        return {"outcome": "ignored", "reason": str(error)}
    log.warning("ignored an event for topic %r", topic)
    return {"outcome": "ignored", "reason": f"not a push topic: {topic!r}"}


def handle_click(serial: str, event: Mapping[str, Any], ports: Ports) -> dict[str, Any]:
    """An AWS IoT Button click on `iotbutton/<serial>`."""
    try:
        click = ButtonClick.from_payload(_payload(event))
    except InvalidPayloadError as error:
        log.warning("malformed click from %s: %s", serial, error)
        ports.history.count("malformed_click")
        return {"outcome": "malformed", "reason": str(error)}
    if click.serial_number != serial:
        # The topic is what the device's policy vouches for; the payload is only its word.
        log.warning("click on iotbutton/%s claims serial %s", serial, click.serial_number)
        ports.history.count("malformed_click")
        return {"outcome": "malformed", "reason": "serialNumber does not match the topic"}
    push = Push(ports.clock.now(), serial, "button", click.click_type)
    outcome = push_button(ports, push, principal=device_principal(serial), client_token=None)
    return _summary(outcome)


def handle_push_request(sender: str, event: Mapping[str, Any], ports: Ports) -> dict[str, Any]:
    """A push request on `swan/push/<sender>`, answered on `.../accepted` or `/rejected`."""
    try:
        request = _parse_request(sender, event)
    except InvalidPayloadError as error:
        ports.history.count("malformed_push_request")
        token = PushRequest.answerable_token(_payload(event))
        _reply(ports, sender, PushRejected(token, "invalid_request", str(error)))
        return {"outcome": "malformed", "reason": str(error)}
    if request.source == "web":
        by, principal = "web", f"web/{request.session or 'anonymous'}"
    else:
        by, principal = sender, device_principal(sender)
    push = Push(ports.clock.now(), by, request.source, "SINGLE", code=request.code)
    outcome = push_button(ports, push, principal=principal, client_token=request.client_token)
    if isinstance(outcome, Refused):
        _reply(
            ports,
            sender,
            PushRejected(
                request.client_token, outcome.reason, outcome.message, outcome.retry_after
            ),
        )
    else:
        _reply(
            ports,
            sender,
            PushAccepted(request.client_token, outcome.countdown.deadline, outcome.number),
        )
    return _summary(outcome)


def device_principal(thing: str) -> str:
    """Whom the rate limit counts: a device is its thing, whichever topic it pushes on (a
    button's thing name is its serial, so its clicks and its push requests are one)."""
    return f"thing/{thing}"


def _parse_request(sender: str, event: Mapping[str, Any]) -> PushRequest:
    request = PushRequest.from_payload(_payload(event))
    if (sender == topics.WEB_SENDER) != (request.source == "web"):
        raise InvalidPayloadError(
            PushRequest.KIND, "source", "'web' comes only from the web backend's topic"
        )
    return request


def push_button(
    ports: Ports, push: Push, *, principal: str, client_token: str | None
) -> Written | Refused:
    """Check, record, then make sure the shadow counts the push (coalescing writes).

    A principal pushing too fast is refused from history alone, before the shadow is read:
    AWS serves 20 shadow requests a second per thing, and one device's flood must not
    spend them (nor keep the other pushers waiting)."""
    screened = ports.history.screen(
        push.at,
        principal=principal,
        client_token=client_token,
        min_interval=ports.rules.min_push_interval,
    )
    if isinstance(screened, Refused):
        return screened
    snapshot = ports.shadow.read()
    ruled = press(snapshot.countdown, push, ports.rules)
    if isinstance(ruled, Refused):
        return ruled
    recorded = ports.history.record(
        push,
        principal=principal,
        client_token=client_token,
        min_interval=ports.rules.min_push_interval,
    )
    if isinstance(recorded, Refused):
        return recorded
    if isinstance(recorded, Duplicate):
        log.info("push %s from %s was redelivered", recorded.number, principal)
    return _write(ports, snapshot, recorded.number)


def _write(ports: Ports, snapshot: Snapshot, number: int) -> Written:
    for _ in range(MAX_ROUNDS):
        now = ports.clock.now()
        plan = plan_write(snapshot.countdown, number, now, ports.rules)
        if isinstance(plan, Covered):
            return Written(plan.countdown, number)
        if isinstance(plan, WaitUntil):
            ports.clock.sleep(plan.at - now)
            snapshot = ports.shadow.read()
            continue
        before = snapshot.countdown
        pending = ports.history.since(before.pushes if before else 0)
        after = fold(before, pending, ports.rules, plan)
        if after is None:  # every pending push was refused and there is no state at all
            raise WriteStarvedError(number)
        if after == before:  # nothing pending after all: someone else wrote it
            return Written(after, number)
        try:
            ports.shadow.write(after, snapshot.version)
        except VersionConflictError:
            snapshot = ports.shadow.read()
            continue
        if before is None or after.run_started_at != before.run_started_at:
            ports.scheduler.schedule(after.deadline)
        return Written(after, number)
    raise WriteStarvedError(number)


def _payload(event: Mapping[str, Any]) -> dict[str, Any]:
    # The rule's SELECT * merged the message into the event; drop what the rule added.
    return {k: v for k, v in event.items() if k not in ("topic", "receivedAt", "clientId")}


def _reply(ports: Ports, sender: str, reply: PushAccepted | PushRejected) -> None:
    accepted = isinstance(reply, PushAccepted)
    outcome = topics.PushOutcome.ACCEPTED if accepted else topics.PushOutcome.REJECTED
    ports.publisher.publish(topics.push_reply_topic(sender, outcome), reply.to_payload())


def _summary(outcome: Written | Refused) -> dict[str, Any]:
    if isinstance(outcome, Refused):
        return {"outcome": "refused", "reason": outcome.reason, "message": outcome.message}
    return {
        "outcome": "accepted",
        "number": outcome.number,
        "deadline": outcome.countdown.deadline,
        "pushes": outcome.countdown.pushes,
    }
