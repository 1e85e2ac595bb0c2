"""AWS IoT Core's message broker, its limits and its answers, for one device connection.

The device gateway frames every MQTT packet between a device and the local broker and asks a
`DeviceSession` about the ones AWS IoT Core would decide on: the answer is None (pass it on,
the hot path), `Refuse` (keep it back; maybe answer its sender, maybe pass something else on
instead) or `Disconnect`. The session holds the device's `Principal` (every policy attached
to its certificate, evaluated together: an explicit Deny wins) and caches each decision per
topic and filter, so a device publishing on one topic costs a dict lookup per packet.

The limits (`BrokerLimits`, AWS's values in `AWS_LIMITS`) are those of "AWS IoT Core message
broker and protocol limits and quotas",
https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits :
- message size: "The payload for every publish request can be no larger than 128 KB. AWS IoT
  Core rejects publish and connect requests larger than this size": the device is
  disconnected (its lifecycle event says CLIENT_ERROR, "the client attempts to publish with a
  payload that exceeds the payload limit"; the "MQTT message payload" page,
  https://docs.aws.amazon.com/iot/latest/developerguide/topicdata.html, names the reason
  PAYLOAD_LIMIT_EXCEEDED). KB is read as 1,024 bytes. A CONNECT over 128 KB is refused too.
- client ID size: 128 bytes of UTF-8 (refused at the connect);
- maximum size of a topic: 256 bytes of UTF-8; maximum number of slashes in a topic or topic
  filter: 7. Both leave out the mandatory first segments of a Basic Ingest topic,
  `$aws/rules/<rule-name>/`;
- publish requests per second per connection: 100 (not adjustable); the ones over it are
  throttled: dropped, the connection kept (the `PublishIn.Throttle` metric counts them);
- throughput per connection: 512 KB/s; "data that exceeds the maximum throughput is delayed
  in processing" (`bytes_delay`: the gateway reads no more until the delay is over);
- subscriptions per SUBSCRIBE: 8; subscriptions per connection: 50;
- keep-alive period: "The default keep-alive period of 1,200 seconds is used when a client
  requests a keep-alive period of zero or > 1,200 seconds. If a client requests a keep-alive
  period of < 30 seconds but > zero, the server treats the client as though it requested a
  keep-alive period of 30 seconds" (`keep_alive`): the gateway asks the broker for that
  period on the client's behalf, so the broker drops a silent client after 1.5 times it, as
  AWS does (its lifecycle event's MQTT_KEEP_ALIVE_TIMEOUT);
- maximum inbound unacknowledged QoS 1 publish requests: 100, "When this quota is reached, no
  new publish requests are accepted from this client until a PUBACK message is returned by
  the server": a publish past it `Wait`s, and the device is not read, until the broker's
  PUBACK for one of them has passed back;
- maximum outbound unacknowledged QoS 1 publish requests: 100, "When this quota is reached,
  no new publish requests are sent to the client until the client acknowledges the publish
  requests": a message to the device past it `Wait`s (the gateway keeps it, and those after
  it, in order, while the packets that are not publishes go on) until the device's PUBACK
  for one of them has passed;
- connect requests per second per client ID: 1, "AWS IoT Core restricts MQTT CONNECT
  requests from the same accountId and clientId to 1 MQTT CONNECT operation per second"
  (`ConnectRate`): a CONNECT sooner than a second after the client id's last one is refused,
  MQTT 5 with CONNACK 0x9F (connection rate exceeded), MQTT 3.1.1, which has no code for
  it, by closing the connection (the documents do not say which answer AWS gives);
- persistent session expiry: "By default, a persistent session expires one hour after the
  message broker detects that a client has disconnected"
  (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-persistent-sessions.html; the
  period is adjustable): `PERSISTENT_SESSION_SECONDS`, which the broker itself holds
  (`swan.local.mosquitto` renders it as `persistent_client_expiration`, which also shortens
  an MQTT 5 client's longer Session Expiry Interval to it).

What AWS answers, after the "MQTT" page of the developer guide
(https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html: "AWS IoT differences from
MQTT specifications", "MQTT reason codes") and where the documents leave it open, the choice
made here:
- MQTT 3.1.1 cannot refuse a PUBLISH but by closing the connection, and AWS does: a publish
  the policies do not allow disconnects the device, at QoS 0 and 1 alike (AWS's SDK teams on
  this: github.com/awslabs/aws-crt-python/issues/229, aws-iot-device-sdk-python-v2/issues/260).
  So does a topic over the size or slash limit (the request is "rejected").
- MQTT 5 answers a QoS 1 PUBLISH with a PUBACK reason code: 0x87 not authorized, 0x90 topic
  name invalid, 0x97 quota exceeded (throttled); the connection stays. A refused QoS 0 PUBLISH
  has nothing to answer it and is dropped: the choice here (no document says more).
- A throttled PUBLISH (over 100 a second) is dropped, MQTT 3.1.1 gets no PUBACK (so the
  device's SDK sends it again later), MQTT 5 QoS 1 gets 0x97.
- SUBSCRIBE: each topic filter the policies do not allow, or over the topic limits, gets a
  failure in the SUBACK (MQTT 3.1.1: 0x80; MQTT 5: 0x87 not authorized, 0x8F topic filter
  invalid), the others are granted (issue 12 measured AWS doing so; AWS SDK maintainers wrote
  in 2018 that it closed the connection instead, github.com/aws/aws-iot-device-sdk-js/issues/191;
  the quotas page says "Clients should validate the SUBACK message"). A SUBSCRIBE with more than
  8 filters is refused whole (every filter 0x80 / 0x97 quota exceeded): the choice here, AWS
  does not say. A subscription past the 50 of a connection: "AWS IoT Core might reject
  subscription requests on the same connection in excess of this amount and the connection is
  closed" (the quotas page; "will result in the connection being disconnected", its older
  text): the device is disconnected (MQTT 5: DISCONNECT 0x97).
- QoS 2: "AWS IoT Core does not support publishing or subscribing with QoS level 2 ... the
  message broker doesn't send a PUBACK or SUBACK": such a PUBLISH or SUBSCRIBE goes nowhere
  and is not answered.
- Receive: a message the policies do not let the device receive is not delivered; a QoS 1
  one is acknowledged to the local broker on the device's behalf. So is one that no
  subscription of the device reaches as AWS matches them: "a subscription to the topic
  `sensor/#` receives messages published to the topics `sensor/`, `sensor/temperature` ...
  but not messages published to `sensor`" (AWS IoT differences from MQTT specifications;
  Mosquitto, as MQTT says, sends it). Known only for a session that began on this connection:
  a resumed one's subscriptions are the broker's. A retained message reaches only a
  subscription to its very topic: "Subscription to topic filters that contain a wildcard
  character can't receive retained messages" (the same page; Mosquitto sends it to either).
- "AWS IoT Core restricts each client connection to a maximum number of inbound and outbound
  publish requests per second. Publish requests that exceed that quota are discarded" (100;
  the quotas page, "Publish requests per second per connection"): what the device publishes
  and what it is sent take from one count. A message to the device past it is discarded as
  one it may not receive is: a QoS 1 one is acknowledged to the local broker on the device's
  behalf, so that the broker neither holds nor sends it again.
- A packet that is not MQTT, or a second CONNECT, disconnects the device (MQTT 5: DISCONNECT
  0x81 malformed packet, 0x82 protocol error, 0x95 packet too large first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

from swan.core.errors import InvalidTopicError
from swan.core.tokenbucket import refilled
from swan.core.topics import reaches
from swan.local.core.mqtt_packets import (
    CONNECT_TYPE,
    MALFORMED_PACKET,
    NOT_AUTHORIZED,
    PACKET_TOO_LARGE,
    PROTOCOL_ERROR,
    PUBACK_TYPE,
    PUBLISH_TYPE,
    QUOTA_EXCEEDED,
    SUBACK_FAILURE,
    SUBACK_TYPE,
    SUBSCRIBE_TYPE,
    TOPIC_FILTER_INVALID,
    TOPIC_NAME_INVALID,
    UNSUBSCRIBE_TYPE,
    MalformedPacketError,
    Suback,
    Subscribe,
    encode_disconnect,
    encode_puback,
    encode_suback,
    encode_subscribe,
    leading_packet_id,
    parse_publish,
    parse_suback,
    parse_subscribe,
    parse_unsubscribe,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swan.local.core.mqtt_packets import Connect
    from swan.local.core.policy import Principal

KIB: Final = 1024
BASIC_INGEST_PREFIX: Final = "$aws/rules/"
"""Basic Ingest topics: `$aws/rules/<rule-name>/...` (the rules engine, no broker)."""
_BASIC_INGEST_SLASHES: Final = 3
HEADER_ALLOWANCE: Final = 64 * KIB
"""What a PUBLISH may carry besides its payload (topic, packet id, MQTT 5 properties) before
the gateway stops buffering it: a bound of the gateway's own, AWS's topic limit is far below."""
CACHE_SIZE: Final = 1024
"""Decisions kept per connection (topics, filters); past it the cache starts over."""
_QOS2: Final = 2
_RETAIN: Final = 0x01  # a PUBLISH's first byte
_RETAIN_AS_PUBLISHED: Final = 0x08  # an MQTT 5 subscription's options

Key = TypeVar("Key")
Value = TypeVar("Value")


@dataclass(frozen=True)
class BrokerLimits:
    """AWS IoT Core's message broker limits (see the module docstring for the page).

    A rate of None means no limit: only for measuring the gateway itself (`swan bench`)."""

    payload_bytes: int = 128 * KIB
    client_id_bytes: int = 128
    topic_bytes: int = 256
    topic_slashes: int = 7
    publishes_per_second: float | None = 100.0
    bytes_per_second: float | None = 512.0 * KIB
    filters_per_subscribe: int = 8
    subscriptions_per_connection: int = 50
    keep_alive_seconds: int = 1200  # the default and the longest
    shortest_keep_alive_seconds: int = 30
    connects_per_second_per_client: float = 1.0
    unacknowledged_inbound: int = 100  # QoS 1 publishes from a client the broker has not acked
    unacknowledged_outbound: int = 100  # QoS 1 publishes to a client it has not acked

    def keep_alive(self, requested: int) -> int:
        """The keep-alive period AWS applies to a client that asked for `requested`."""
        if requested == 0 or requested > self.keep_alive_seconds:
            return self.keep_alive_seconds
        return max(requested, self.shortest_keep_alive_seconds)

    def client_id_problem(self, client_id: str) -> str | None:
        """Why AWS refuses this client id at the connect, or None."""
        size = len(client_id.encode())
        if size > self.client_id_bytes:
            return f"client id of {size} bytes (at most {self.client_id_bytes})"
        return None

    def topic_problem(self, topic: str) -> str | None:
        """Why AWS refuses this topic or topic filter (size, slashes), or None."""
        counted = topic
        if topic[: len(BASIC_INGEST_PREFIX)].lower() == BASIC_INGEST_PREFIX:
            parts = topic.split("/", _BASIC_INGEST_SLASHES)
            counted = parts[-1] if len(parts) > _BASIC_INGEST_SLASHES else ""
        size = len(counted.encode())
        if size > self.topic_bytes:
            return f"topic of {size} bytes (at most {self.topic_bytes})"
        slashes = counted.count("/")
        if slashes > self.topic_slashes:
            return f"topic with {slashes} slashes (at most {self.topic_slashes})"
        return None

    def allows_the_will(self, connect: Connect, principal: Principal) -> bool:
        """Whether AWS takes a CONNECT's last will: AWS refuses a connect whose will it would
        not let the device publish (its lifecycle event says AUTHORIZATION_FAILED,
        "including when a Last Will topic is not authorized": life-cycle-events.html); a
        will to be retained also needs `iot:RetainPublish` on its topic (AWS's retained
        message policy examples: "Policy to connect and publish retained Will messages")."""
        topic = connect.will_topic
        if topic is None:
            return True
        if self.topic_problem(topic) is not None or not principal.can_publish(topic):
            return False
        return not connect.will_retain or principal.can_retain(topic)


AWS_LIMITS: Final = BrokerLimits()
UNMETERED: Final = BrokerLimits(publishes_per_second=None, bytes_per_second=None)
"""AWS's limits without the two rates: for measuring the gateway's own cost."""


PERSISTENT_SESSION_SECONDS: Final = 3600
"""How long the broker keeps a persistent session after its client disconnects (AWS's default)."""


CONNECT_RATE_KEPT: Final = 10_000
"""Client ids remembered at most; past it the ones outside the window are forgotten."""


class ConnectRate:
    """Each client id's last admitted CONNECT, to hold AWS's CONNECTs per second per client
    id (see the module docstring). Memory is bounded: a client id whose window has passed
    is forgotten when `CONNECT_RATE_KEPT` are remembered."""

    def __init__(self, per_second: float) -> None:
        self.window = 1 / per_second
        self._last: dict[str, float] = {}

    def admit(self, client_id: str, now: float) -> bool:
        """Whether a CONNECT for `client_id` at `now` is within the rate (then it counts)."""
        last = self._last.get(client_id)
        if last is not None and 0 <= now - last < self.window:
            return False
        if len(self._last) >= CONNECT_RATE_KEPT:
            self._last = {k: t for k, t in self._last.items() if 0 <= now - t < self.window}
        self._last[client_id] = now
        return True


class TokenBucket:
    """A rate: `rate` units a second, at most `rate` at once (a full second's worth)."""

    __slots__ = ("_at", "_tokens", "rate")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = refilled(self._tokens, self._at, now, rate=self.rate, capacity=self.rate)
            self._at = now

    def take(self, now: float) -> bool:
        """Take one unit if there is one."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def charge(self, now: float, amount: float) -> float:
        """Take `amount` units, in debt if need be: the seconds until the debt is paid."""
        self._refill(now)
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclass(frozen=True, slots=True)
class Refuse:
    """Do not pass the packet on. `reply` goes back to its sender; `instead` goes on to the
    other side in its place (a SUBSCRIBE with fewer filters, a completed SUBACK)."""

    reason: str
    reply: bytes = b""
    instead: bytes = b""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the device's connection; `reply` is the last packet it gets (MQTT 5)."""

    reason: str
    reply: bytes = b""


@dataclass(frozen=True, slots=True)
class Wait:
    """Not now: the publish waits, and the ones after it, until `accepts_publishes` (from the
    device) or `sends_publishes` (to it): the unacknowledged QoS 1 publishes that way are at
    AWS's quota."""


WAIT: Final = Wait()

Outcome = Refuse | Disconnect | Wait | None
"""None: pass the packet on unchanged."""


@dataclass(frozen=True, slots=True)
class _Pending:
    """A SUBSCRIBE passed on with fewer filters: the codes of the ones kept back (by their
    place in the device's SUBSCRIBE), None where the broker's SUBACK answers."""

    codes: tuple[int | None, ...]


@dataclass
class DeviceSession:
    """The decisions for one device connection, packet by packet (no I/O; `now` passed in)."""

    principal: Principal
    mqtt5: bool
    now: float
    limits: BrokerLimits = AWS_LIMITS
    # Whether the broker holds no subscription of the client's but those made on this
    # connection (a clean session, or MQTT 5's Clean Start): then what reaches it is known.
    new_session: bool = True
    _publish_rate: TokenBucket | None = field(init=False, default=None)
    _byte_rate: TokenBucket | None = field(init=False, default=None)
    _publish_verdicts: dict[bytes, int] = field(init=False, default_factory=dict)
    _receive_verdicts: dict[bytes, bool] = field(init=False, default_factory=dict)
    _reached: dict[bytes, bool] = field(init=False, default_factory=dict)
    _retain_as_published: bool = field(init=False, default=False)  # MQTT 5, any subscription
    _aliases_in: dict[int, bytes] = field(init=False, default_factory=dict)
    _aliases_out: dict[int, bytes] = field(init=False, default_factory=dict)
    _subscriptions: set[str] = field(init=False, default_factory=set)
    _pending: dict[int, _Pending] = field(init=False, default_factory=dict)
    _unacknowledged: set[int] = field(init=False, default_factory=set)  # inbound packet ids
    _unacknowledged_out: set[int] = field(init=False, default_factory=set)  # outbound ones

    def __post_init__(self) -> None:
        if self.limits.publishes_per_second is not None:
            self._publish_rate = TokenBucket(self.limits.publishes_per_second, self.now)
        if self.limits.bytes_per_second is not None:
            self._byte_rate = TokenBucket(self.limits.bytes_per_second, self.now)

    # ------------------------------------------------------------ device -> broker

    def too_large(self, first: int, length: int) -> Disconnect | None:
        """Decided on the fixed header alone, before the body is read: a packet no payload
        limit could let through is not buffered."""
        allowed = self.limits.payload_bytes
        if first >> 4 == PUBLISH_TYPE:
            allowed += HEADER_ALLOWANCE
        if length > allowed:
            return self._disconnect(f"a packet of {length} bytes", PACKET_TOO_LARGE)
        return None

    def bytes_delay(self, now: float, size: int) -> float:
        """Seconds to wait before reading more, after `size` bytes from the device."""
        return 0.0 if self._byte_rate is None else self._byte_rate.charge(now, size)

    def from_device(self, first: int, body: memoryview, now: float) -> Outcome:
        """What to do with a whole packet from the device (`first`: its first byte)."""
        kind = first >> 4
        try:
            if kind == PUBLISH_TYPE:
                return self._publish(first, body, now)
            if kind == SUBSCRIBE_TYPE:
                return self._subscribe(body)
            if kind == PUBACK_TYPE and self._unacknowledged_out:
                self._unacknowledged_out.discard(leading_packet_id(body, "PUBACK"))
            elif kind == UNSUBSCRIBE_TYPE:
                self._subscriptions.difference_update(parse_unsubscribe(body, mqtt5=self.mqtt5))
                self._reached.clear()
            elif kind == CONNECT_TYPE:
                return self._disconnect("a second CONNECT", PROTOCOL_ERROR)
        except MalformedPacketError as error:
            return self._disconnect(error.problem, MALFORMED_PACKET)
        return None

    def _publish(self, first: int, body: memoryview, now: float) -> Outcome:
        header = parse_publish(first, body, mqtt5=self.mqtt5)
        if header.qos == _QOS2:
            return Refuse("QoS 2 (AWS IoT Core neither takes nor answers it)")
        if header.payload_size > self.limits.payload_bytes:
            why = f"a payload of {header.payload_size} bytes (at most {self.limits.payload_bytes})"
            return self._disconnect(why, PACKET_TOO_LARGE)
        topic = self._alias(header.topic, header.topic_alias, self._aliases_in)
        if topic is None:
            return self._disconnect("an unknown topic alias", PROTOCOL_ERROR)
        if not self.accepts_publishes:
            return WAIT  # decided again, whole, once there is room: nothing is counted yet
        outcome = self._admit(topic, header.packet_id, now, retain=bool(first & _RETAIN))
        if outcome is None and header.qos:
            self._unacknowledged.add(header.packet_id)
        return outcome

    @property
    def accepts_publishes(self) -> bool:
        """Whether a publish from the device is taken now (fewer than the quota of its QoS 1
        publishes wait for the broker's PUBACK)."""
        return len(self._unacknowledged) < self.limits.unacknowledged_inbound

    def _admit(self, topic: bytes, packet_id: int, now: float, *, retain: bool) -> Outcome:
        """The rate, the topic's limits and the policies, for a publish to `topic`."""
        if self._publish_rate is not None and not self._publish_rate.take(now):
            return self._refuse_publish(packet_id, QUOTA_EXCEEDED, "throttled")
        verdict = self._publish_verdicts.get(topic)
        if verdict is None:
            verdict = self._publish_verdict(topic)
            _remember(self._publish_verdicts, topic, verdict)
        if not verdict and retain and not self.principal.can_retain(topic.decode()):
            verdict = NOT_AUTHORIZED  # iot:RetainPublish, "the RETAIN flag set"
        if not verdict:
            return None
        reason = "not authorized" if verdict == NOT_AUTHORIZED else "topic refused"
        kind = "retained publish" if retain else "publish"
        why = f"{reason}: {kind} to {topic.decode(errors='replace')!r}"
        if self.mqtt5:
            return self._refuse_publish(packet_id, verdict, why)
        return Disconnect(why)

    def _publish_verdict(self, raw: bytes) -> int:
        """0 when AWS takes a publish to this topic; else the MQTT 5 reason code."""
        try:
            topic = raw.decode()
        except UnicodeDecodeError:
            return TOPIC_NAME_INVALID
        if self.limits.topic_problem(topic) is not None:
            return TOPIC_NAME_INVALID
        return 0 if self.principal.can_publish(topic) else NOT_AUTHORIZED

    def _refuse_publish(self, packet_id: int, reason: int, why: str) -> Refuse:
        if self.mqtt5 and packet_id:
            return Refuse(why, reply=encode_puback(packet_id, reason, mqtt5=True))
        return Refuse(why)

    def _subscribe(self, body: memoryview) -> Outcome:
        request = parse_subscribe(body, mqtt5=self.mqtt5)
        if any(options & 3 == _QOS2 for _, options in request.filters):
            return Refuse("a subscription at QoS 2 (AWS IoT Core does not answer it)")
        if len(request.filters) > self.limits.filters_per_subscribe:
            why = f"{len(request.filters)} filters in one SUBSCRIBE"
            failures = [self._failure(QUOTA_EXCEEDED)] * len(request.filters)
            return Refuse(why, reply=self._suback(request.packet_id, failures))
        codes: list[int | None] = []
        kept: list[tuple[str, int]] = []
        most = self.limits.subscriptions_per_connection
        for topic_filter, options in request.filters:
            code = self._filter_code(topic_filter)
            codes.append(code)
            if code is None:
                if topic_filter not in self._subscriptions and len(self._subscriptions) >= most:
                    why = f"a subscription past the {most} of a connection"
                    return self._disconnect(why, QUOTA_EXCEEDED)
                kept.append((topic_filter, options))
                self._subscriptions.add(topic_filter)
                self._reached.clear()
                if self.mqtt5 and options & _RETAIN_AS_PUBLISHED:
                    self._retain_as_published = True
        if len(kept) == len(request.filters):
            return None
        why = f"subscriptions refused: {_refused_filters(request, codes)}"
        if not kept:
            return Refuse(why, reply=self._suback(request.packet_id, codes))
        self._pending[request.packet_id] = _Pending(tuple(codes))
        narrower = Subscribe(request.packet_id, tuple(kept), request.properties)
        return Refuse(why, instead=encode_subscribe(narrower))

    def _filter_code(self, topic_filter: str) -> int | None:
        """None if the filter is granted, else its failure code."""
        if self.limits.topic_problem(topic_filter) is not None:
            return self._failure(TOPIC_FILTER_INVALID)
        if not self.principal.can_subscribe(topic_filter):
            return self._failure(NOT_AUTHORIZED)
        return None

    def _failure(self, reason: int) -> int:
        return reason if self.mqtt5 else SUBACK_FAILURE

    def _suback(self, packet_id: int, codes: Sequence[int | None]) -> bytes:
        # Only called with every code a failure: nothing was granted.
        failures = bytes(code or SUBACK_FAILURE for code in codes)
        return encode_suback(Suback(packet_id, failures), mqtt5=self.mqtt5)

    # ------------------------------------------------------------ broker -> device

    def from_broker(self, first: int, body: memoryview, now: float) -> Outcome:
        """What to do with a whole packet from the broker to the device."""
        kind = first >> 4
        try:
            if kind == PUBLISH_TYPE:
                return self._deliver(first, body, now)
            if kind == SUBACK_TYPE and self._pending:
                return self._complete_suback(body)
            if kind == PUBACK_TYPE and self._unacknowledged:
                self._unacknowledged.discard(leading_packet_id(body, "PUBACK"))
        except MalformedPacketError as error:
            return self._disconnect(f"from the broker: {error.problem}", MALFORMED_PACKET)
        return None

    def _deliver(self, first: int, body: memoryview, now: float) -> Outcome:
        header = parse_publish(first, body, mqtt5=self.mqtt5)
        topic = self._alias(header.topic, header.topic_alias, self._aliases_out)
        if topic is None:
            return self._disconnect("from the broker: an unknown topic alias", PROTOCOL_ERROR)
        allowed = self._receive_verdicts.get(topic)
        if allowed is None:
            allowed = self.principal.can_receive(topic.decode(errors="replace"))
            _remember(self._receive_verdicts, topic, allowed)
        if not allowed:
            why = f"not authorized: receive {topic.decode(errors='replace')!r}"
        elif not self._is_reached(topic):
            why = (
                f"no subscription reaches {topic.decode(errors='replace')!r} (# is not its parent)"
            )
        elif first & _RETAIN and not self._gets_retained(topic):
            why = f"retained {topic.decode(errors='replace')!r}, for wildcard subscriptions only"
        elif not self.sends_publishes:
            return WAIT  # decided again, whole, once there is room: nothing is counted yet
        elif self._publish_rate is not None and not self._publish_rate.take(now):
            why = "throttled outbound"  # the device's publishes and these share the rate
        else:
            if header.qos:
                self._unacknowledged_out.add(header.packet_id)
            return None
        ack = encode_puback(header.packet_id, mqtt5=self.mqtt5) if header.qos else b""
        return Refuse(why, reply=ack)

    def _is_reached(self, topic: bytes) -> bool:
        """Whether a subscription of the device reaches `topic` as AWS's broker matches
        (`swan.core.topics.reaches`: Mosquitto also sends `a` to `a/#`). Subscriptions of a
        session from an earlier connection are the broker's alone to know: all it sends
        passes."""
        if not self.new_session:
            return True
        reached = self._reached.get(topic)
        if reached is None:
            name = topic.decode(errors="replace")
            reached = any(_reaching(f, name) for f in self._subscriptions)
            _remember(self._reached, topic, reached)
        return reached

    def _gets_retained(self, topic: bytes) -> bool:
        """Whether the device takes a retained message on `topic` (the broker set RETAIN: sent
        for a new subscription, or forwarded to one that keeps it, MQTT 5's Retain As
        Published). AWS: "Subscription to topic filters that contain a wildcard character
        can't receive retained messages ... the subscribe request must contain a topic filter
        that matches the retained message topic exactly" (AWS IoT differences from MQTT
        specifications). Not decided for a resumed session, nor past Retain As Published."""
        if not self.new_session or self._retain_as_published:
            return True
        return topic.decode(errors="replace") in self._subscriptions

    @property
    def sends_publishes(self) -> bool:
        """Whether a message is sent the device now (fewer than the quota of QoS 1 messages
        sent it wait for its PUBACK)."""
        return len(self._unacknowledged_out) < self.limits.unacknowledged_outbound

    def _complete_suback(self, body: memoryview) -> Outcome:
        pending = self._pending.pop(leading_packet_id(body, "SUBACK"), None)
        if pending is None:
            return None
        suback = parse_suback(body, mqtt5=self.mqtt5)
        granted = iter(suback.codes)
        codes = bytes(next(granted, SUBACK_FAILURE) if c is None else c for c in pending.codes)
        whole = Suback(suback.packet_id, codes, suback.properties)
        return Refuse(
            "the refused filters put back", instead=encode_suback(whole, mqtt5=self.mqtt5)
        )

    # ------------------------------------------------------------ both ways

    @staticmethod
    def _alias(topic: bytes, alias: int | None, aliases: dict[int, bytes]) -> bytes | None:
        """The topic a PUBLISH names, through MQTT 5's topic aliases (section 3.3.2.3.4)."""
        if alias is None:
            return topic
        if topic:
            aliases[alias] = topic
            return topic
        return aliases.get(alias)

    def _disconnect(self, why: str, reason: int) -> Disconnect:
        return Disconnect(why, encode_disconnect(reason) if self.mqtt5 else b"")


def _reaching(topic_filter: str, topic: str) -> bool:
    try:
        return reaches(topic_filter, topic)
    except InvalidTopicError:  # a filter the broker refused holds nothing
        return False


def _remember(cache: dict[Key, Value], key: Key, value: Value) -> None:
    if len(cache) >= CACHE_SIZE:
        cache.clear()  # a device touring topics: bounded memory, decided again
    cache[key] = value


def _refused_filters(request: Subscribe, codes: Sequence[int | None]) -> str:
    refused = (f for (f, _), code in zip(request.filters, codes, strict=True) if code is not None)
    return ", ".join(repr(f) for f in refused)
