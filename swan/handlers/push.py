"""The push handler: IoT Button clicks and push requests -> the button shadow.

Thin on purpose: parse the event into a core type, let the core decide, hand the result to
the ports. The only loop is the coalescing one (see swan.core.coalesce).

AWS serves 20 shadow requests a second per thing, reads as well as writes, however many
handlers run at once. So a push is admitted from history alone (the rate limit; the `swan`
rule set alone also needs the deadline, so it reads the shadow), and only the handler that
holds the writer's claim in history reads and writes the shadow: one read and at most one
write per turn, turns no more often than the coalescing budget allows. The others learn
from history that a write counted their push.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swan.adapters.history import Duplicate
from swan.adapters.iotdata import VersionConflictError
from swan.core import topics
from swan.core.coalesce import Covered, WaitUntil, fold, history_after, plan_write
from swan.core.codecs import ButtonClick, PushAccepted, PushRejected, PushRequest
from swan.core.countdown import Push, Refused, press
from swan.core.errors import InvalidPayloadError, InvalidTopicError, SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.handlers.ports import Ports

log = logging.getLogger(__name__)

# Enough for any burst: each round writes, waits out a window or another handler's turn, or
# re-reads after a conflict; running out means something is badly wrong and Lambda should
# retry.
MAX_ROUNDS = 400
# How long a claim on the writer lasts if its holder dies in the middle of its turn.
WRITER_HOLD_SECONDS = 5.0


class WriteStarvedError(SwanError, RuntimeError):
    def __init__(self, number: int) -> None:
        super().__init__(f"push {number} was not written after {MAX_ROUNDS} rounds")


@dataclass(frozen=True)
class Written:
    """The push is in history and the shadow counts it: as push `number`, with `deadline`
    (the shadow's, or the one this push set when another handler wrote it)."""

    deadline: float
    number: int
    pushes: int


def handle_event(event: Mapping[str, Any], ports: Ports) -> dict[str, Any]:
    """Entry point for both topic rules; the rule adds `topic() AS topic` to the event."""
    topic = str(event.get("topic", ""))
    try:
        serial = topics.parse_button_topic(topic)
        if serial is not None:
            return handle_click(serial, event, ports)
        push_topic = topics.parse_push_topic(topic)
        if push_topic is not None and push_topic.outcome is None:
            return handle_push_request(push_topic, event, ports)
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


def handle_push_request(
    topic: topics.PushTopic, event: Mapping[str, Any], ports: Ports
) -> dict[str, Any]:
    """A push request on `swan/push/<thing>` (a device) or `swan/push/web/<identity id>` (a
    browser's Cognito identity), answered on the topic's `/accepted` or `/rejected`. Whom
    the rate limit counts comes from the topic, which the sender's policy or role vouches
    for, never from the payload."""
    try:
        request = _parse_request(topic, event)
    except InvalidPayloadError as error:
        ports.history.count("malformed_push_request")
        token = PushRequest.answerable_token(_payload(event))
        _reply(ports, topic, PushRejected(token, "invalid_request", str(error)))
        return {"outcome": "malformed", "reason": str(error)}
    if topic.identity:
        by, principal = "web", identity_principal(topic.sender)
    else:
        by, principal = topic.sender, device_principal(topic.sender)
    push = Push(ports.clock.now(), by, request.source, "SINGLE", code=request.code)
    outcome = push_button(ports, push, principal=principal, client_token=request.client_token)
    if isinstance(outcome, Refused):
        _reply(
            ports,
            topic,
            PushRejected(
                request.client_token, outcome.reason, outcome.message, outcome.retry_after
            ),
        )
    else:
        _reply(
            ports,
            topic,
            PushAccepted(request.client_token, outcome.deadline, outcome.number),
        )
    return _summary(outcome)


def device_principal(thing: str) -> str:
    """Whom the rate limit counts: a device is its thing, whichever topic it pushes on (a
    button's thing name is its serial, so its clicks and its push requests are one)."""
    return f"thing/{thing}"


def identity_principal(identity_id: str) -> str:
    """Whom the rate limit counts for a browser: its Cognito identity."""
    return f"identity/{identity_id}"


def _parse_request(topic: topics.PushTopic, event: Mapping[str, Any]) -> PushRequest:
    request = PushRequest.from_payload(_payload(event))
    if topic.identity != (request.source == "web"):
        raise InvalidPayloadError(
            PushRequest.KIND, "source", "'web' comes only from a browser's identity's topic"
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
    if ports.rules.rule_set == "swan":  # the prompt opens with the alarm: that needs the deadline
        ruled = press(ports.shadow.read().countdown, push, ports.rules)
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
    return _write(ports, push, recorded.number)


def _write(ports: Ports, push: Push, number: int) -> Written:
    """Make sure the shadow counts push `number`: wait for a write that does, or take the
    writer's turn and write every push recorded so far."""
    owner = uuid.uuid4().hex
    for _ in range(MAX_ROUNDS):
        written = ports.history.written()
        if written >= number:
            return Written(push.at + ports.rules.period_seconds, number, written)
        now = ports.clock.now()
        retry_at = ports.history.claim_writer(owner, now=now, hold=WRITER_HOLD_SECONDS)
        if retry_at is not None:  # another handler's turn
            ports.clock.sleep(min(retry_at, now + _poll(ports)) - now)
            continue
        try:
            turn = _take_turn(ports, number)
        finally:
            ports.history.release_writer(owner, not_before=ports.clock.now())
        if turn is not None:
            return turn
    raise WriteStarvedError(number)


def _take_turn(ports: Ports, number: int) -> Written | None:
    """The writer's turn: one read and at most one write, waiting in between (holding the
    turn) for the coalescing budget. None after a version conflict (the expiry handler
    wrote meanwhile): the next turn reads again."""
    snapshot = ports.shadow.read()
    plan = plan_write(snapshot.countdown, number, ports.clock.now(), ports.rules)
    if isinstance(plan, WaitUntil):
        ports.clock.sleep(plan.at - ports.clock.now())
        plan = plan_write(snapshot.countdown, number, ports.clock.now(), ports.rules)
    if isinstance(plan, Covered):
        ports.history.mark_written(plan.countdown.pushes)
        return Written(plan.countdown.deadline, number, plan.countdown.pushes)
    if isinstance(plan, WaitUntil):  # the clock stepped back: take another turn
        return None
    before = snapshot.countdown
    pending = ports.history.since(history_after(before))
    after = fold(before, pending, ports.rules, plan)
    if after is None:  # every pending push was refused and there is no state at all
        raise WriteStarvedError(number)
    if after == before:  # nothing pending after all: someone else wrote it
        return Written(after.deadline, number, after.pushes)
    try:
        ports.shadow.write(after, snapshot.version)
    except VersionConflictError:
        return None
    ports.history.mark_written(after.pushes)
    if before is None or after.run_started_at != before.run_started_at:
        ports.scheduler.schedule(after.deadline)
    return Written(after.deadline, number, after.pushes)


def _poll(ports: Ports) -> float:
    """How often a handler waiting for the writer's turn looks again: twice per write slot."""
    return 0.5 / ports.rules.shadow_writes_per_second


def _payload(event: Mapping[str, Any]) -> dict[str, Any]:
    # The rule's SELECT * merged the message into the event; drop what the rule added.
    return {k: v for k, v in event.items() if k not in ("topic", "receivedAt", "clientId")}


def _reply(ports: Ports, topic: topics.PushTopic, reply: PushAccepted | PushRejected) -> None:
    accepted = isinstance(reply, PushAccepted)
    outcome = topics.PushOutcome.ACCEPTED if accepted else topics.PushOutcome.REJECTED
    ports.publisher.publish(topic.reply(outcome), reply.to_payload())


def _summary(outcome: Written | Refused) -> dict[str, Any]:
    if isinstance(outcome, Refused):
        return {"outcome": "refused", "reason": outcome.reason, "message": outcome.message}
    return {
        "outcome": "accepted",
        "number": outcome.number,
        "deadline": outcome.deadline,
        "pushes": outcome.pushes,
    }
