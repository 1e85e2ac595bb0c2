"""The Pi client: follows the button shadow, shows it on an LED matrix, pushes on the
joystick, reports its own shadow and applies the lights its `desired` section asks for.

Two kinds of threads meet here. MQTT callbacks and the joystick only record what happened
(the latest shadow, a pending push, a refusal) and wake the display loop; they never block,
and an error in one is logged, never fatal. The display loop does everything else, one
`step` at a time: it reads the clock once, sends what is pending, draws the scene if a pixel
changed, and sleeps until the picture can next change or something wakes it. Nothing
queues: a burst of presses is one push, a burst of pushes one report.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from device import own_shadow
from device.display import REFUSED, Notice, Scene, compose
from device.lights import Lights
from swan.adapters.follower import ButtonFollower
from swan.core.codecs import (
    PushRejected,
    PushRequest,
    ShadowDelta,
    ShadowErrorResponse,
    ShadowGetAccepted,
)
from swan.core.errors import InvalidPayloadError
from swan.core.topics import (
    PushOutcome,
    ShadowTopics,
    parse_push_topic,
    push_reply_topic,
    push_topic,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from device.lights import Applied
    from device.matrix import LedMatrix
    from swan.adapters.clock import Clock
    from swan.adapters.follower import Observed
    from swan.adapters.mqtt import Message, Transport
    from swan.core.countdown import Countdown, Push
    from swan.core.render import Frame

log = logging.getLogger(__name__)

REPORT_INTERVAL: Final = 1.0
"""At most one report of the Pi's own shadow a second, however fast pushes arrive."""
REPORT_FALLBACK: Final = 3.0
"""After a connect, report without the own shadow's answer if none came this soon."""
ASK_AGAIN: Final = (2.0, 60.0)
"""No answer to the gets after a connect (the shadow service reconnects later than we do,
after a broker restart): ask again after 2 s, then twice as long each time, up to 60 s."""
NOTICE_SECONDS: Final = 2.0
ERROR_WAIT: Final = 1.0
SHORTEST_WAIT: Final = 0.01
"""Whatever is due, the loop never spins: a report due in a microsecond waits this long."""
GOODBYE_TIMEOUT: Final = 3.0
NEVER: Final = float("inf")

OFFLINE: Final = "offline: the push was not sent"
REFUSALS: Final = {
    "rate_limited": "too fast",
    "too_early": "too early",
    "wrong_code": "needs the code",
    "invalid_request": "refused",
}


@dataclass(frozen=True)
class _Pending:
    """What the callbacks handed to the loop since its last step."""

    resync: bool
    push: bool
    notice: tuple[str, Frame] | None


class Pi:
    def __init__(  # noqa: PLR0913  (the client's collaborators and its two timings)
        self,
        thing: str,
        transport: Transport,
        matrix: LedMatrix,
        clock: Clock,
        *,
        firmware: str,
        lights: Lights | None = None,
        report_interval: float = REPORT_INTERVAL,
        notice_seconds: float = NOTICE_SECONDS,
    ) -> None:
        self.thing = thing
        self._transport = transport
        self._matrix = matrix
        self._clock = clock
        self._firmware = firmware
        self._report_interval = report_interval
        self._notice_seconds = notice_seconds
        self._topics = ShadowTopics(thing)
        self._push_topic = push_topic(thing)
        self._get_token = f"{thing}-get-{uuid.uuid4().hex[:8]}"
        self._follower = ButtonFollower(transport, self._on_button)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        # -- written by callbacks, under the lock
        self._observed: Observed | None = None
        self._lights = lights or Lights()
        self._desired_version = 0
        self._online = False
        self._resync = False
        self._push_pending = False
        self._push_token: str | None = None
        self._notice_pending: tuple[str, Frame] | None = None
        self._report_due = False
        self._answered = False  # the own shadow answered the last get
        # -- the loop's own
        self._notice: Notice | None = None
        self._report_after: float | None = None
        self._ask_again_at: float | None = None
        self._ask_delay = ASK_AGAIN[0]
        self._last_report = -NEVER
        self._reported_push: Push | None = None
        self._shown: tuple[Frame, str] | None = None
        self._shown_low_light: bool | None = None
        self._last_error: str | None = None
        self.steps = 0

    # ------------------------------------------------------------ wiring

    def start(self) -> None:
        """Subscribe to everything the Pi follows, and listen to the joystick. On a transport
        that is not connected yet, the subscriptions are made when it connects."""
        topics = self._topics
        self._transport.subscribe(topics.update_delta, self._on_delta)
        self._transport.subscribe(topics.get_accepted, self._on_own_get)
        self._transport.subscribe(topics.get_rejected, self._on_own_get_rejected)
        for outcome in PushOutcome:
            self._transport.subscribe(push_reply_topic(self.thing, outcome), self._on_push_reply)
        self._follower.start()
        self._matrix.listen(self.press)

    # ------------------------------------------------------------ events (any thread)

    def connected(self) -> None:
        """The transport (re)connected: get both shadows again and report."""
        with self._lock:
            self._online = True
            self._resync = True
        self._wake.set()

    def disconnected(self) -> None:
        with self._lock:
            self._online = False
        self._wake.set()

    def press(self) -> None:
        """The joystick was pressed."""
        with self._lock:
            self._push_pending = True
        self._wake.set()

    def stop(self) -> None:
        """End `run`, from any thread (a signal handler hands it to a thread of its own:
        device.app)."""
        self._stopping.set()
        self._wake.set()

    # ------------------------------------------------------------ the display loop

    @property
    def lights(self) -> Lights:
        with self._lock:
            return self._lights

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    def run(self) -> None:
        """Step until `stop`: never busier than the picture needs."""
        while not self._stopping.is_set():
            wait = self.safe_step()
            if self._wake.wait(wait):
                self._wake.clear()

    def safe_step(self) -> float:
        """`step`, but an error is logged (once while it repeats) and retried a second later."""
        try:
            wait = self.step()
        except Exception as error:
            said = f"{type(error).__name__}: {error}"
            if said != self._last_error:
                log.exception("the display loop failed; trying again")
            self._last_error = said
            return ERROR_WAIT
        self._last_error = None
        return wait

    def step(self) -> float:
        """One pass: send what is pending, draw if a pixel changed. Returns how long to sleep."""
        now = self._clock.now()  # the one clock reading of this frame
        self.steps += 1
        pending = self._take_pending()
        if pending.notice is not None:
            text, frame = pending.notice
            self._notice = Notice(text, frame, now + self._notice_seconds)
        if pending.resync:
            self._resync_now(now)
        if pending.push:
            self._push(now)
        ask_wait = self._ask_again(now)
        report_wait = self._report(now)
        scene = self._scene(now)
        self._draw(scene)
        return max(min(scene.wait, report_wait, ask_wait), SHORTEST_WAIT)

    def shutdown(self, timeout: float = GOODBYE_TIMEOUT) -> None:
        """Clear the LEDs and report offline (if there is a connection to say it on)."""
        try:
            self._matrix.clear()
        except Exception:
            log.exception("could not clear the LEDs")
        if not self.online:
            return
        section = self._reported_section(online=False)
        sent = self._transport.publish(
            self._topics.update, own_shadow.update_request(section, self._token("bye"))
        )
        try:
            sent.result(timeout)
        except Exception as error:  # noqa: BLE001  (going away regardless)
            log.warning("could not report offline: %s", error)

    # ------------------------------------------------------------ the loop's work

    def _take_pending(self) -> _Pending:
        with self._lock:
            pending = _Pending(self._resync, self._push_pending, self._notice_pending)
            self._resync = self._push_pending = False
            self._notice_pending = None
        return pending

    def _resync_now(self, now: float) -> None:
        log.info("%s connected: getting the shadows again", self.thing)
        self._ask()
        self._send(
            own_shadow.status_topic(self.thing), own_shadow.status_payload(online=True), "status"
        )
        self._report_after = now + REPORT_FALLBACK
        self._ask_delay = ASK_AGAIN[0]
        self._ask_again_at = now + self._ask_delay

    def _ask(self) -> None:
        with self._lock:
            self._answered = False
        self._follower.refresh()
        self._send(self._topics.get, own_shadow.get_request(self._get_token), "get own shadow")

    def _ask_again(self, now: float) -> float:
        """Get both shadows again while the last gets went unanswered; returns the wait."""
        if self._ask_again_at is None:
            return NEVER
        with self._lock:
            answered, online = self._answered, self._online
        if answered or not online:
            self._ask_again_at = None  # answered; or the next connect asks anew
            return NEVER
        if now < self._ask_again_at:
            return self._ask_again_at - now
        log.info("%s: no answer from the shadows yet, asking again", self.thing)
        self._ask()
        self._ask_delay = min(self._ask_delay * 2, ASK_AGAIN[1])
        self._ask_again_at = now + self._ask_delay
        return self._ask_delay

    def _push(self, now: float) -> None:
        if not self.online:
            self._notice = Notice(OFFLINE, REFUSED, now + self._notice_seconds)
            return
        token = uuid.uuid4().hex
        with self._lock:
            self._push_token = token
        request = PushRequest(client_token=token, source="pi")
        sent = self._transport.publish(self._push_topic, json.dumps(request.to_payload()).encode())
        sent.add_done_callback(self._push_sent)

    def _report(self, now: float) -> float:
        """Report the own shadow if due and allowed; returns how long until it may be due."""
        with self._lock:
            due, online = self._report_due, self._online
        if not online:
            return NEVER  # the next connect reports
        if self._report_after is not None:
            due = due or now >= self._report_after
        if not due:
            return NEVER if self._report_after is None else self._report_after - now
        if now - self._last_report < self._report_interval:
            return self._last_report + self._report_interval - now
        section = self._reported_section(online=True)
        with self._lock:
            self._report_due = False
            self._reported_push = self._last_push_locked()
        self._report_after = None
        self._last_report = now
        request = own_shadow.update_request(section, self._token("report"))
        self._send(self._topics.update, request, "report")
        return NEVER

    def _scene(self, now: float) -> Scene:
        with self._lock:
            observed, lights, online = self._observed, self._lights, self._online
        return compose(
            observed.countdown if observed else None,
            loaded=observed is not None,
            online=online,
            lights=lights,
            notice=self._notice,
            now=now,
            captions=self._matrix.shows_caption,
        )

    def _draw(self, scene: Scene) -> None:
        low_light = self.lights.low_light
        if low_light != self._shown_low_light:
            self._matrix.set_low_light(low_light)
            self._shown_low_light = low_light
            self._shown = None  # draw again in the new light
        caption = scene.caption if self._matrix.shows_caption else ""
        if self._shown != (scene.frame, caption):
            self._matrix.show(scene.frame, scene.caption)
            self._shown = (scene.frame, caption)

    def _reported_section(self, *, online: bool) -> dict[str, object]:
        return own_shadow.reported(
            online=online,
            firmware=self._firmware,
            display=self._matrix.mode,
            lights=self.lights,
            last_push=self._last_push(),
        )

    def _last_push(self) -> Push | None:
        with self._lock:
            return self._last_push_locked()

    def _last_push_locked(self) -> Push | None:
        countdown: Countdown | None = self._observed.countdown if self._observed else None
        return countdown.last_push if countdown else None

    def _send(self, topic: str, payload: bytes, what: str) -> None:
        sent = self._transport.publish(topic, payload)
        sent.add_done_callback(lambda future: _log_failure(future, what))

    def _token(self, what: str) -> str:
        return f"{self.thing}-{what}-{uuid.uuid4().hex[:8]}"[-64:]

    # ------------------------------------------------------------ callbacks (MQTT thread)

    def _on_button(self, observed: Observed) -> None:
        with self._lock:
            self._observed = observed
            countdown = observed.countdown
            if countdown is not None and countdown.last_push != self._reported_push:
                self._report_due = True
        self._wake.set()

    def _on_delta(self, message: Message) -> None:
        try:
            delta = ShadowDelta.from_payload(message.payload)
        except InvalidPayloadError as error:
            log.warning("ignored a bad delta of %s: %s", self.thing, error)
            return
        self._apply_desired(delta.state, delta.version)

    def _on_own_get(self, message: Message) -> None:
        try:
            accepted = ShadowGetAccepted.from_payload(message.payload)
        except InvalidPayloadError as error:
            log.warning("ignored a bad shadow of %s: %s", self.thing, error)
            return
        if accepted.client_token != self._get_token:
            return
        with self._lock:
            self._answered = True
        # The whole desired section, not only the delta: after a restart the Pi starts
        # from its defaults, while desired may equal what it reported before.
        self._apply_desired(accepted.snapshot.desired, accepted.snapshot.version, report=True)

    def _on_own_get_rejected(self, message: Message) -> None:
        try:
            error = ShadowErrorResponse.from_payload(message.payload)
        except InvalidPayloadError:
            return
        if error.client_token != self._get_token:
            return
        # 404: the first run of this thing; anything else: report what we have anyway.
        with self._lock:
            self._answered = True
            self._report_due = True
        self._wake.set()

    def _on_push_reply(self, message: Message) -> None:
        parsed = parse_push_topic(message.topic)
        if parsed is None or parsed.outcome is not PushOutcome.REJECTED:
            return  # accepted: the button shadow's next document shows it
        try:
            rejected = PushRejected.from_payload(message.payload)
        except InvalidPayloadError as error:
            log.warning("ignored a bad push reply: %s", error)
            return
        with self._lock:
            mine = rejected.client_token is not None and rejected.client_token == self._push_token
        if mine:
            what = REFUSALS.get(rejected.reason, "refused")
            self._hand_notice(f"{what}: {rejected.message}", REFUSED)

    def _push_sent(self, sent: Future[None]) -> None:
        if sent.exception() is not None:
            log.info("a push was not sent: %s", sent.exception())
            self._hand_notice(OFFLINE, REFUSED)

    def _hand_notice(self, text: str, frame: Frame) -> None:
        with self._lock:
            self._notice_pending = (text, frame)
        self._wake.set()

    def _apply_desired(
        self, desired: dict[str, object], version: int, *, report: bool = False
    ) -> None:
        applied: Applied | None = None
        with self._lock:
            self._report_due = self._report_due or report
            # Shadow messages are not ordered: an older version than one applied is stale.
            if version > self._desired_version:
                self._desired_version = version
                applied = self._lights.apply(desired)
                self._lights = applied.lights
                # Report a change only: reporting a refused value would never settle.
                self._report_due = self._report_due or applied.changed
        if applied is not None and applied.refused:
            log.warning("%s ignored desired %s", self.thing, applied.refused)
        self._wake.set()


def _log_failure(future: Future[None], what: str) -> None:
    error = future.exception()
    if error is not None:
        log.info("%s was not sent: %s", what, error)
