"""AWS IoT Core's message broker limits and answers at the device gateway, for MQTT 3.1.1
(awscrt.mqtt) and MQTT 5 (awscrt.mqtt5, without the SDK's own client-side checks, so that
the gateway is what refuses), through the real gateway and Mosquitto."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace

import pytest
from awscrt import mqtt, mqtt5
from awsiot import mqtt5_client_builder
from support import mqtt_string, mqtt_varint, unique

from swan.adapters.mqtt import Endpoint, MqttError, connect
from swan.local.core.mqtt_packets import fixed_header, parse_publish

WAIT = 10
QUIET = 0.5  # what a broker sends at once has come by then
KIB = 1024
GATEWAY_LOGS = ("swan.local.gateway", "swan.local.relay")  # the device door, its relay
ACCEPTED = (mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS)


@pytest.fixture
def thing():
    return unique("pi-")


@pytest.fixture
def endpoint(identity, thing):
    return identity.provision(thing)


@pytest.fixture
def heard(service):
    """What reaches the broker (a subscriber on the internal listener), by topic filter."""

    def listen(topic_filter):
        received = queue.Queue()
        service.subscribe(topic_filter, received.put)
        return received

    return listen


# ---------------------------------------------------------------- MQTT 5 devices


@dataclass
class Device5:
    client: mqtt5.Client
    received: queue.Queue
    disconnections: queue.Queue

    def publish(self, topic, payload=b"{}", qos=mqtt5.QoS.AT_LEAST_ONCE):
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=qos)
        return self.client.publish(packet)

    def puback(self, topic, payload=b"{}"):
        return self.publish(topic, payload).result(WAIT).puback.reason_code

    def subscribe(self, *filters):
        subscriptions = [mqtt5.Subscription(f, mqtt5.QoS.AT_LEAST_ONCE) for f in filters]
        packet = mqtt5.SubscribePacket(subscriptions=subscriptions)
        return self.client.subscribe(packet).result(WAIT).reason_codes


@contextlib.contextmanager
def mqtt5_device(endpoint):
    """A device on MQTT 5 with awsiotsdk's builder, its client-side limits turned off."""
    connected, stopped = threading.Event(), threading.Event()
    failures, received, disconnections = queue.Queue(), queue.Queue(), queue.Queue()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=endpoint.host,
        port=endpoint.port,
        cert_filepath=str(endpoint.cert_file),
        pri_key_filepath=str(endpoint.key_file),
        ca_filepath=str(endpoint.ca_file),
        client_id=endpoint.client_id,
        enable_metrics_collection=False,
        extended_validation_and_flow_control_options=(
            mqtt5.ExtendedValidationAndFlowControlOptions.NONE
        ),
        on_publish_received=lambda data: received.put(data.publish_packet),
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_connection_failure=lambda data: failures.put(data.exception),
        on_lifecycle_disconnection=disconnections.put,
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    client.start()
    try:
        assert connected.wait(WAIT), f"MQTT 5 connection failed: {list(failures.queue)}"
        yield Device5(client, received, disconnections)
    finally:
        client.stop()
        assert stopped.wait(WAIT)


@contextlib.contextmanager
def mqtt311_device(endpoint):
    """A device on MQTT 3.1.1, as swan.adapters.mqtt connects; its interruptions queued."""
    interrupted = queue.Queue()
    device = connect(endpoint, on_interrupted=interrupted.put)
    try:
        yield device, interrupted
    finally:
        device.close()


def hung_up(interrupted):
    error = interrupted.get(timeout=WAIT)
    return "UNEXPECTED_HANGUP" in str(error)


def named_shadow_update(thing, name):
    return f"$aws/things/{thing}/shadow/name/{name}/update"


# ---------------------------------------------------------------- payload size


def test_mqtt_311_a_payload_of_128_kib_passes_and_one_byte_more_disconnects(endpoint, heard, thing):
    topic = f"swan/push/{thing}"
    received = heard(topic)
    with mqtt311_device(endpoint) as (device, interrupted):
        connected = time.monotonic()
        device.publish(topic, b"x" * (128 * KIB)).result(WAIT)
        assert len(received.get(timeout=WAIT).payload) == 128 * KIB
        device.publish(topic, b"x" * (128 * KIB + 1), qos=0)
        assert hung_up(interrupted)
    # AWS (and the gateway) take one CONNECT a second per client id: the next waits for it.
    time.sleep(max(0.0, connected + 1.1 - time.monotonic()))
    with mqtt311_device(endpoint) as (device, _):
        device.publish(topic, b"after").result(WAIT)
        assert received.get(timeout=WAIT).payload == b"after"  # the big one never arrived


def test_mqtt_5_a_payload_over_128_kib_is_answered_packet_too_large(endpoint, heard, thing):
    topic = f"swan/push/{thing}"
    received = heard(topic)
    with mqtt5_device(endpoint) as device:
        device.publish(topic, b"x" * (128 * KIB + 1))
        gone = device.disconnections.get(timeout=WAIT)
        assert gone.disconnect_packet.reason_code == mqtt5.DisconnectReasonCode.PACKET_TOO_LARGE
    assert received.empty()


def test_a_16_mib_publish_is_refused_on_its_header_not_read_whole(endpoint, identity, thing):
    with socket.create_connection(("127.0.0.1", identity.port), timeout=WAIT) as raw:
        tls = tls_to(endpoint, raw)
        tls.sendall(connect_packet(thing))
        assert read_packet(tls)[0] == 0x20  # CONNACK
        topic = f"swan/push/{thing}".encode()
        body_size = 2 + len(topic) + 16 * KIB * KIB
        tls.sendall(b"\x30" + mqtt_varint(body_size) + len(topic).to_bytes(2, "big") + topic)
        tls.sendall(b"x" * (64 * KIB))  # the start of the payload: the gateway stops here
        assert tls.recv(1) == b""


# ---------------------------------------------------------------- topic size and slashes


def test_mqtt_311_a_topic_over_256_bytes_disconnects(endpoint, heard, thing):
    prefix = named_shadow_update(thing, "")
    name = "n" * (256 - len(prefix))
    received = heard(named_shadow_update(thing, "+"))
    with mqtt311_device(endpoint) as (device, interrupted):
        at_the_limit = named_shadow_update(thing, name)
        assert len(at_the_limit) == 256
        device.publish(at_the_limit, b"{}").result(WAIT)
        assert received.get(timeout=WAIT).topic == at_the_limit
        device.publish(named_shadow_update(thing, name + "n"), b"{}", qos=0)
        assert hung_up(interrupted)


def test_mqtt_5_topics_over_the_size_or_slash_limit_are_answered_topic_name_invalid(
    endpoint, thing
):
    with mqtt5_device(endpoint) as device:
        long_name = "n" * (257 - len(named_shadow_update(thing, "")))
        invalid = mqtt5.PubackReasonCode.TOPIC_NAME_INVALID
        assert device.puback(named_shadow_update(thing, long_name)) == invalid
        assert device.puback(named_shadow_update(thing, "a/b/c")) == invalid  # 8 slashes
        assert device.puback(named_shadow_update(thing, "a/b")) in ACCEPTED  # 7 slashes
        assert device.disconnections.empty()


# ---------------------------------------------------------------- publishes per second


def test_mqtt_5_more_than_100_publishes_a_second_are_answered_quota_exceeded(endpoint, thing):
    with mqtt5_device(endpoint) as device:
        started = time.monotonic()
        sent = [device.publish(f"swan/push/{thing}", b"%d" % n) for n in range(300)]
        codes = [future.result(WAIT).puback.reason_code for future in sent]
        elapsed = time.monotonic() - started
        accepted = sum(code in ACCEPTED for code in codes)
        throttled = codes.count(mqtt5.PubackReasonCode.QUOTA_EXCEEDED)
        assert accepted + throttled == len(sent)
        assert 100 <= accepted <= 100 + 100 * elapsed + 1
        assert device.disconnections.empty()


def test_mqtt_311_publishes_past_100_a_second_are_dropped_unacknowledged(endpoint, thing):
    with mqtt311_device(endpoint) as (device, interrupted):
        started = time.monotonic()
        sent = [device.publish(f"swan/push/{thing}", b"%d" % n) for n in range(300)]
        # The SUBACK comes after every PUBACK the broker will send for the publishes before.
        device.subscribe(f"swan/push/{thing}/accepted", lambda _: None)
        elapsed = time.monotonic() - started
        acknowledged = sum(future.done() for future in sent)
        assert 100 <= acknowledged <= 100 + 100 * elapsed + 1
        assert interrupted.empty()


def test_a_flood_from_one_device_reaches_the_broker_at_100_a_second_and_no_one_waits(
    identity, heard
):
    flooder, pusher = unique("pi-flood-"), unique("pi-")
    received = heard("swan/push/+")
    with (
        mqtt311_device(identity.provision(flooder)) as (flood, interrupted),
        mqtt311_device(identity.provision(pusher)) as (device, _),
    ):
        started = time.monotonic()
        for n in range(1000):  # as fast as the client goes: far past 100 a second
            flood.publish(f"swan/push/{flooder}", b"%d" % n, qos=0)
        flood.subscribe(f"swan/push/{flooder}/accepted", lambda _: None)  # after the flood
        elapsed = time.monotonic() - started
        sent = time.monotonic()
        device.publish(f"swan/push/{pusher}", b"mine").result(WAIT)
        flooded = 0
        while (message := received.get(timeout=WAIT)).topic != f"swan/push/{pusher}":
            flooded += 1  # the broker delivers in order: the flood's, then the push
        assert time.monotonic() - sent < 0.5
        assert 100 <= flooded <= 100 + 100 * elapsed + 1
        assert message.payload == b"mine"
        assert interrupted.empty()  # throttled, not thrown out


def test_messages_to_a_device_past_100_a_second_are_discarded_and_it_stays_connected(
    endpoint, service, thing
):
    """AWS counts "inbound and outbound publish requests" against one 100 a second and
    discards the excess (a QoS 1 one is acknowledged to the local broker for the device)."""
    topic = f"swan/push/{thing}/accepted"
    received = queue.Queue()
    with mqtt311_device(endpoint) as (device, interrupted):
        device.subscribe(topic, received.put)
        started = time.monotonic()
        for future in [service.publish(topic, b"%d" % n) for n in range(300)]:
            future.result(WAIT)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # the count refills
        service.publish(topic, b"after").result(WAIT)
        got = []
        while (message := received.get(timeout=WAIT)).payload != b"after":
            got.append(int(message.payload))
        assert 100 <= len(got) <= 100 + 100 * (elapsed + 0.5)
        assert got == sorted(got)  # in order, the excess left out
        assert interrupted.empty()


def subscribe_packet(topic_filter, *, level):
    options = b"\x00" if level == 5 else b""  # MQTT 5: no SUBSCRIBE properties
    body = b"\x00\x01" + options + mqtt_string(topic_filter) + b"\x01"
    return b"\x82" + mqtt_varint(len(body)) + body


def delivered(tls, count, *, level):
    """(packet id, payload) of the next `count` messages the device is sent."""
    messages = []
    while len(messages) < count:
        packet = read_packet(tls)
        start, _ = fixed_header(packet, 0)
        header = parse_publish(packet[0], packet[start:], mqtt5=level == 5)
        messages.append((header.packet_id, packet[len(packet) - header.payload_size :]))
    return messages


def nothing_more(tls, seconds=0.5):
    tls.settimeout(seconds)
    try:
        tls.recv(1)
    except TimeoutError:
        return True
    finally:
        tls.settimeout(WAIT)
    return False


def pubacks(messages):
    return b"".join(b"\x40\x02" + packet_id.to_bytes(2, "big") for packet_id, _ in messages)


@pytest.mark.parametrize("level", [4, 5])
def test_past_100_unacknowledged_messages_a_device_is_sent_no_more_until_it_acknowledges(
    endpoint, identity, service, thing, level
):
    """AWS: "When this quota is reached, no new publish requests are sent to the client until
    the client acknowledges the publish requests" (100)."""
    topic = f"swan/push/{thing}/accepted"
    with raw_device(endpoint, identity, connect_packet(thing, level=level)) as tls:
        assert read_packet(tls)[0] == 0x20  # CONNACK
        tls.sendall(subscribe_packet(topic, level=level))
        assert read_packet(tls)[0] == 0x90  # SUBACK
        for future in [service.publish(topic, b"%d" % n) for n in range(130)]:
            future.result(WAIT)
        first = delivered(tls, 100, level=level)
        assert nothing_more(tls)
        tls.sendall(pubacks(first[:10]))
        second = delivered(tls, 10, level=level)
        assert nothing_more(tls)
        tls.sendall(pubacks(first[10:] + second))
        rest = delivered(tls, 20, level=level)
    payloads = [payload for _, payload in first + second + rest]
    assert payloads == [b"%d" % n for n in range(130)]  # in order, none lost


# ---------------------------------------------------------------- subscriptions


def test_mqtt_311_a_subscription_the_policy_does_not_allow_gets_a_failure_suback(endpoint, thing):
    with mqtt311_device(endpoint) as (device, interrupted):
        with pytest.raises(MqttError) as refused:
            device.subscribe("swan/push/+/accepted", lambda _: None)
        assert isinstance(refused.value.cause, mqtt.SubscribeError)  # SUBACK 0x80
        device.subscribe(f"swan/push/{thing}/accepted", lambda _: None)  # still connected
        assert interrupted.empty()


def test_mqtt_311_one_subscribe_partly_allowed_is_granted_filter_by_filter(
    endpoint, identity, service, thing
):
    allowed = f"swan/push/{thing}/accepted"
    with socket.create_connection(("127.0.0.1", identity.port), timeout=WAIT) as raw:
        tls = tls_to(endpoint, raw)
        tls.sendall(connect_packet(thing))
        assert read_packet(tls)[0] == 0x20  # CONNACK
        filters = mqtt_string("swan/push/#") + b"\x01" + mqtt_string(allowed) + b"\x01"
        tls.sendall(b"\x82" + mqtt_varint(2 + len(filters)) + b"\x00\x07" + filters)
        assert read_packet(tls) == b"\x90\x04\x00\x07\x80\x01"  # refused, then granted
        service.publish(allowed, b"hello", qos=0).result(WAIT)
        delivered = read_packet(tls)
        assert delivered[0] >> 4 == 3  # PUBLISH
        assert delivered.endswith(mqtt_string(allowed) + b"hello")


def test_mqtt_5_subscriptions_refused_with_their_reason_codes(endpoint, service, thing):
    codes = mqtt5.SubackReasonCode
    allowed = f"swan/push/{thing}/accepted"
    with mqtt5_device(endpoint) as device:
        assert device.subscribe("swan/push/+/accepted", allowed) == [
            codes.NOT_AUTHORIZED,
            codes.GRANTED_QOS_1,
        ]
        assert device.subscribe(f"$aws/things/{thing}/shadow/name/a/b/c/get/accepted") == [
            codes.TOPIC_FILTER_INVALID
        ]
        assert device.subscribe(*[allowed] * 9) == [codes.QUOTA_EXCEEDED] * 9
        service.publish(allowed, b"hello").result(WAIT)
        assert device.received.get(timeout=WAIT).payload == b"hello"


def test_mqtt_5_a_subscription_past_the_50_of_a_connection_disconnects(endpoint, thing):
    filters = [f"$aws/things/{thing}/shadow/name/s{n}/get/accepted" for n in range(52)]
    with mqtt5_device(endpoint) as device:
        granted = [code for n in range(0, 50, 5) for code in device.subscribe(*filters[n : n + 5])]
        assert granted == [mqtt5.SubackReasonCode.GRANTED_QOS_1] * 50
        unsubscribed = device.client.unsubscribe(mqtt5.UnsubscribePacket([filters[0]]))
        unsubscribed.result(WAIT)
        assert device.subscribe(filters[50]) == [mqtt5.SubackReasonCode.GRANTED_QOS_1]
        device.client.subscribe(
            mqtt5.SubscribePacket([mqtt5.Subscription(filters[51], mqtt5.QoS.AT_LEAST_ONCE)])
        )
        gone = device.disconnections.get(timeout=WAIT)
        assert gone.disconnect_packet.reason_code == mqtt5.DisconnectReasonCode.QUOTA_EXCEEDED


# ---------------------------------------------------------------- unauthorized publish


def test_mqtt_311_a_publish_the_policy_does_not_allow_disconnects(endpoint, heard):
    received = heard("swan/push/#")
    with mqtt311_device(endpoint) as (device, interrupted):
        device.publish("swan/push/someone-else", b"{}", qos=0)
        assert hung_up(interrupted)
    assert received.empty()


def test_mqtt_5_a_publish_the_policy_does_not_allow_is_answered_not_authorized(
    endpoint, heard, thing
):
    received = heard("swan/push/#")
    with mqtt5_device(endpoint) as device:
        assert device.puback("swan/push/someone-else") == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert device.puback(f"swan/push/{thing}") in ACCEPTED  # the connection stays
        assert received.get(timeout=WAIT).topic == f"swan/push/{thing}"
        assert device.disconnections.empty()


# ---------------------------------------------------------------- every attached policy


def attach_second_policy(identity, deployment, thing, statements):
    context = deployment.context
    arn = f"arn:{context.partition}:iot:{context.region}:{context.account_id}"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": effect, "Action": action, "Resource": f"{arn}:{resource}"}
            for effect, action, resource in statements
        ],
    }
    name = unique("second-")
    identity.registry.create_policy(name, json.dumps(document))
    record = next(r for r in identity.registry.certificates() if r.common_name == thing)
    identity.registry.attach_policy(name, record.arn)


def test_every_attached_policy_is_evaluated_together_and_a_deny_wins(
    identity, deployment, endpoint, service, thing
):
    with mqtt5_device(endpoint) as device:  # the device policy alone
        assert device.puback(f"swan/push/{thing}") in ACCEPTED
        assert device.subscribe(f"extra/{thing}") == [mqtt5.SubackReasonCode.NOT_AUTHORIZED]
    attach_second_policy(
        identity,
        deployment,
        thing,
        [
            ("Deny", "iot:Publish", f"topic/swan/push/{thing}"),
            ("Allow", "iot:Subscribe", f"topicfilter/extra/{thing}"),
            ("Deny", "iot:Receive", f"topic/swan/push/{thing}/rejected"),
        ],
    )
    with mqtt5_device(endpoint) as device:  # both, from the next connection
        assert device.puback(f"swan/push/{thing}") == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert device.subscribe(f"extra/{thing}") == [mqtt5.SubackReasonCode.GRANTED_QOS_1]
        accepted, rejected = f"swan/push/{thing}/accepted", f"swan/push/{thing}/rejected"
        assert device.subscribe(accepted, rejected) == [mqtt5.SubackReasonCode.GRANTED_QOS_1] * 2
        for _ in range(3):  # QoS 1: the gateway acknowledges what it keeps back
            service.publish(rejected, b"denied").result(WAIT)
        service.publish(accepted, b"allowed").result(WAIT)
        assert device.received.get(timeout=WAIT).payload == b"allowed"
        assert device.received.empty()


def test_a_multi_level_wildcard_does_not_reach_its_parent_as_on_aws(endpoint, service, thing):
    parent = f"swan/push/{thing}/news"  # the device may receive it and every topic below
    with mqtt5_device(endpoint) as device:
        assert device.subscribe(f"{parent}/#") == [mqtt5.SubackReasonCode.GRANTED_QOS_1]
        for topic in (parent, f"{parent}/", f"{parent}/temperature"):  # in this order
            service.publish(topic, topic.encode()).result(WAIT)
        arrived = [device.received.get(timeout=WAIT).topic for _ in range(2)]
        assert arrived == [f"{parent}/", f"{parent}/temperature"]  # Mosquitto sent it first


def test_a_retained_publish_needs_iot_retain_publish_as_on_aws(endpoint, heard, thing):
    topic = f"swan/push/{thing}"  # the device policy lets it publish here, not retain
    received = heard(topic)
    with mqtt5_device(endpoint) as device:
        packet = mqtt5.PublishPacket(topic=topic, payload=b"kept", qos=1, retain=True)
        refused = device.client.publish(packet).result(WAIT).puback.reason_code
        assert refused == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert device.puback(topic, b"not kept") in ACCEPTED  # still connected
    assert received.get(timeout=WAIT).payload == b"not kept"  # the refused one never came


@contextlib.contextmanager
def retained_message(service, topic, payload):
    """`payload` kept by the broker on `topic` (RETAIN), and cleared after."""

    def publish(body):
        sent, _ = service.connection.publish(topic, body, mqtt.QoS.AT_LEAST_ONCE, retain=True)
        sent.result(WAIT)

    publish(payload)
    try:
        yield
    finally:
        publish(b"")  # an empty retained message clears it


def test_a_retained_message_reaches_only_a_subscription_to_its_very_topic_as_on_aws(
    endpoint, service, thing
):
    parent = f"swan/push/{thing}/settings"
    kept = f"{parent}/colour"
    with retained_message(service, kept, b"green"), mqtt5_device(endpoint) as device:
        assert (
            device.subscribe(f"{parent}/#", f"swan/push/{thing}/+/colour")
            == [mqtt5.SubackReasonCode.GRANTED_QOS_1] * 2
        )
        with pytest.raises(queue.Empty):  # Mosquitto sends it right after its SUBACK
            device.received.get(timeout=QUIET)
        assert device.subscribe(kept) == [mqtt5.SubackReasonCode.GRANTED_QOS_1]
        message = device.received.get(timeout=WAIT)
        assert (message.topic, message.payload, message.retain) == (kept, b"green", True)


# ---------------------------------------------------------------- bad CONNECTs, quietly


def tls_to(endpoint, raw):
    context = ssl.create_default_context(cafile=str(endpoint.ca_file))
    context.load_cert_chain(str(endpoint.cert_file), str(endpoint.key_file))
    tls = context.wrap_socket(raw, server_hostname="localhost")
    tls.settimeout(WAIT)
    return tls


def read_packet(tls):
    """One whole MQTT packet from a blocking socket."""
    first = tls.recv(1)
    length, shift, byte = 0, 0, 0x80
    while byte & 0x80:
        byte = tls.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
    header = first + mqtt_varint(length)
    body = b""
    while len(body) < length:
        body += tls.recv(length - len(body))
    return header + body


def connect_packet(client_id, *, level=4, keep_alive=30, will=None, will_retain=False):
    """A CONNECT (clean session); `will`: its last will's topic (MQTT 3.1.1), to be retained
    or not."""
    raw = client_id.encode()
    flags = 0x02 if will is None else 0x02 | 0x04 | (0x20 if will_retain else 0)
    properties = b"\x00" if level == 5 else b""  # MQTT 5: no CONNECT properties
    head = mqtt_string(b"MQTT") + bytes([level, flags]) + keep_alive.to_bytes(2, "big")
    body = head + properties + len(raw).to_bytes(2, "big") + raw
    if will is not None:
        body += mqtt_string(will) + mqtt_string(b"offline")
    return b"\x10" + mqtt_varint(len(body)) + body


@contextlib.contextmanager
def raw_device(endpoint, identity, packet):
    """A device's TLS connection that has sent `packet` as its CONNECT."""
    with socket.create_connection(("127.0.0.1", identity.port), timeout=WAIT) as raw:
        tls = tls_to(endpoint, raw)
        tls.sendall(packet)
        yield tls


CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


class LogWaiter(logging.Handler):
    """Sets `seen` when a record saying `text` is logged (from any thread)."""

    def __init__(self, text):
        super().__init__(logging.INFO)
        self.text = text
        self.seen = threading.Event()

    def emit(self, record):
        if self.text in record.getMessage():
            self.seen.set()


def refused_quietly(caplog, endpoint, identity, sent, reason, *, ending=False):
    waiter = LogWaiter(reason)
    for name in GATEWAY_LOGS:
        caplog.set_level(logging.INFO, logger=name)
        logging.getLogger(name).addHandler(waiter)
    try:
        with socket.create_connection(("127.0.0.1", identity.port), timeout=WAIT) as raw:
            tls = tls_to(endpoint, raw)
            tls.sendall(sent)
            if ending:
                socket.socket.shutdown(tls, socket.SHUT_WR)  # the TCP connection, under TLS
            assert tls.recv(1) == b""  # closed: no CONNACK
        assert waiter.seen.wait(WAIT), f"no log line saying {reason!r}"
    finally:
        for name in GATEWAY_LOGS:
            logging.getLogger(name).removeHandler(waiter)
    gateway = [r for r in caplog.records if r.name in GATEWAY_LOGS]
    assert [r for r in gateway if r.levelno >= logging.WARNING or r.exc_info] == []


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (b"\x10\x0c\x00\x04MQTT\x04\x02", "the connection closed before it ended"),
        (b"\x10\x04\x00\x04HTTP", "bad CONNECT: truncated CONNECT"),
        (b"\x10\x80\x80\x0d", f"a CONNECT of {208 * KIB} bytes (at most {128 * KIB})"),
        (b"\x30\x02\x00\x00", "the first packet must be CONNECT"),
    ],
)
def test_a_malformed_connect_is_refused_with_one_log_line(caplog, endpoint, identity, sent, reason):
    ending = reason == "the connection closed before it ended"
    refused_quietly(caplog, endpoint, identity, sent, reason, ending=ending)


def test_a_stalled_connect_is_refused_with_one_log_line(caplog, endpoint, identity, monkeypatch):
    monkeypatch.setattr(identity.gateway, "connect_timeout", 0.3)
    refused_quietly(caplog, endpoint, identity, b"\x10", "bad CONNECT: none within 0.3 s")


def test_a_client_id_over_128_bytes_is_refused(caplog, endpoint, identity):
    long_id = "x" * 129
    refused_quietly(caplog, endpoint, identity, connect_packet(long_id), "client id of 129 bytes")
    with pytest.raises(MqttError):
        connect(Endpoint(**{**endpoint.__dict__, "client_id": long_id}), timeout=5)


def test_a_connect_whose_last_will_the_policies_do_not_allow_is_refused(endpoint, thing):
    with pytest.raises(MqttError):
        connect(replace(endpoint, will=("swan/status/someone-else", b"offline")), timeout=5)
    allowed = connect(replace(endpoint, will=(f"swan/status/{thing}", b"offline")), timeout=5)
    allowed.close()


def test_a_last_will_to_be_retained_needs_iot_retain_publish_as_on_aws(endpoint, identity, thing):
    will = f"swan/status/{thing}"  # the device policy lets it publish here, not retain
    with raw_device(endpoint, identity, connect_packet(thing, will=will, will_retain=True)) as kept:
        assert not kept.recv(16).startswith(CONNACK_ACCEPTED)
    with raw_device(endpoint, identity, connect_packet(thing, will=will)) as plain:
        assert read_packet(plain) == CONNACK_ACCEPTED


# ---------------------------------------------------------------- keep-alive, connect rate


def test_mqtt_311_a_client_id_connects_once_a_second_as_on_aws(endpoint, identity, thing):
    with raw_device(endpoint, identity, connect_packet(thing)) as first:
        assert read_packet(first) == CONNACK_ACCEPTED
        with raw_device(endpoint, identity, connect_packet(thing)) as again:
            assert again.recv(1) == b""  # within the second: closed, no CONNACK
    time.sleep(1.0)
    with raw_device(endpoint, identity, connect_packet(thing)) as later:
        assert read_packet(later) == CONNACK_ACCEPTED


def test_mqtt_5_a_second_connect_within_the_second_is_told_connection_rate_exceeded(
    endpoint, identity, thing
):
    with raw_device(endpoint, identity, connect_packet(thing, level=5)) as first:
        assert read_packet(first)[3] == 0x00  # success
        with raw_device(endpoint, identity, connect_packet(thing, level=5)) as again:
            assert read_packet(again) == b"\x20\x03\x00\x9f\x00"
            assert again.recv(1) == b""


def test_a_keep_alive_under_30_s_is_kept_as_30_as_aws_does(endpoint, identity, thing):
    """Mosquitto drops a client that asked for 2 s once it has been silent for 3 s (it looks
    every few seconds: 5 to 6 s, measured); AWS treats a keep-alive under 30 s as 30 s, and
    so does the gateway."""
    with raw_device(endpoint, identity, connect_packet(thing, keep_alive=2)) as device:
        assert read_packet(device) == CONNACK_ACCEPTED
        time.sleep(7)  # well past when Mosquitto would have dropped it
        device.sendall(b"\xc0\x00")  # PINGREQ
        assert read_packet(device) == b"\xd0\x00"  # PINGRESP: still connected
