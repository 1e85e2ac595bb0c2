"""The template's IoT policy and the browsers' role, as ACLs, on a real Mosquitto: the broker
allows what AWS would.

A broker of its own, with plain listeners whose identity is the client id (`%c`), as behind
the gateway: the device listener has the ACL of `DevicePolicy`, the identity listener that of
`WebBackendRole` (the identity pool's unauthenticated role, whose client id is the Cognito
identity id), and a listener without an ACL stands in for the project's services. Each
client publishes on every topic of a matrix (MQTT 5: a refused QoS 1 publish is answered
with PUBACK reason 135) and subscribes to everything (Mosquitto grants every subscription;
what the ACL refuses is never delivered); the results must match `swan.local.core.policy` and the
`swan.local.core.acl` model of Mosquitto's check.
"""

from __future__ import annotations

import getpass
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import free_port, unique

from swan.adapters.mqtt import MqttError, connect
from swan.local import mosquitto
from swan.local.authorization import role_documents
from swan.local.core.acl import Access, acl_allows, listener_context, mosquitto_acl
from swan.local.core.policy import PolicyContext, Principal
from swan.local.deployment import read_template
from swan.local.intrinsics import context_for
from swan.local.policies import device_acl, identity_acl
from swan.local.stack import broker_plan
from swan.local.template import load_template
from swan.local.web_gateway import mqtt_documents

TEMPLATE = Path(__file__).parents[2] / "sam" / "template.yaml"
TIMEOUT = 5.0
IDENTITY_ROLE = "WebBackendRole"
IDENTITY = "us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"
OTHER_IDENTITY = "us-east-1:00000000-1111-2222-3333-444444444444"

SUCCESS, NO_SUBSCRIBERS, NOT_AUTHORIZED = 0x00, 0x10, 0x87
GRANTED_QOS_1 = 0x01


# ---------------------------------------------------------------- a small MQTT 5 client


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack("!H", len(data)) + data


class Mqtt5:
    """Just enough MQTT 5 to see the reason codes the broker answers with."""

    def __init__(self, port: int, client_id: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.packet_id = 0
        self.received: list[tuple[str, bytes]] = []
        header = _text("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 30) + _varint(0)
        self._send(0x10, header + _text(client_id))
        kind, body = self._read()
        assert (kind, body[1]) == (0x20, SUCCESS), body

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        """Publish at QoS 1; the PUBACK's reason code."""
        packet_id = self._next_id()
        self._send(0x32, _text(topic) + struct.pack("!H", packet_id) + _varint(0) + payload)
        body = self._wait_for(0x40)
        assert struct.unpack("!H", body[:2])[0] == packet_id
        return SUCCESS if len(body) == 2 else body[2]  # a bare PUBACK means success

    def subscribe(self, topic_filter: str) -> int:
        """Subscribe at QoS 1; the SUBACK's reason code."""
        packet_id = self._next_id()
        body = struct.pack("!H", packet_id) + _varint(0) + _text(topic_filter) + bytes([1])
        self._send(0x82, body)
        suback = self._wait_for(0x90)
        return suback[-1]

    def receive_until(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Every message up to and including this one (a sentinel published last)."""
        while (topic, payload) not in self.received:
            self._handle(*self._read())
        return self.received

    def close(self) -> None:
        self._send(0xE0, b"\x00")
        self.sock.close()

    def _next_id(self) -> int:
        self.packet_id += 1
        return self.packet_id

    def _send(self, first: int, body: bytes) -> None:
        self.sock.sendall(bytes([first]) + _varint(len(body)) + body)

    def _wait_for(self, kind: int) -> bytes:
        while True:
            first, body = self._read()
            if first & 0xF0 == kind:
                return body
            self._handle(first, body)

    def _handle(self, first: int, body: bytes) -> None:
        assert first & 0xF0 == 0x30, hex(first)  # only PUBLISH arrives unasked
        size = struct.unpack("!H", body[:2])[0]
        topic, rest = body[2 : 2 + size].decode(), body[2 + size :]
        if first & 0x06:  # QoS 1: acknowledge
            self._send(0x40, rest[:2])
            rest = rest[2:]
        length, used = 0, 0
        for shift, byte in enumerate(rest):  # the properties' length
            length |= (byte & 0x7F) << (7 * shift)
            used += 1
            if not byte & 0x80:
                break
        self.received.append((topic, rest[used + length :]))

    def _read(self) -> tuple[int, bytes]:
        first = self._exactly(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._exactly(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return first, self._exactly(length)

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data


# ---------------------------------------------------------------- the broker


@dataclass(frozen=True)
class Broker:
    device_port: int
    identity_port: int
    service_port: int
    device_acl: str
    identity_acl: str


@pytest.fixture(scope="module")
def template():
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def template_deployment(template):
    role = {"ExpirySchedulerRole.Arn": "arn:aws:iam::000000000000:role/x"}
    return read_template(template, context_for(template, attributes=role))


@pytest.fixture(scope="module")
def role_mqtt(template, template_deployment):
    """The browsers' role's MQTT statements, as the stack gives them to the door and broker."""
    return mqtt_documents(role_documents(template, template_deployment.context)[IDENTITY_ROLE])


@pytest.fixture(scope="module")
def acl_broker(template_deployment, role_mqtt, tmp_path_factory):
    directory = tmp_path_factory.mktemp("policy-broker")
    ports = free_port(), free_port(), free_port()
    acls = device_acl(template_deployment), identity_acl(template_deployment, role_mqtt)
    (directory / "device.acl").write_text(acls[0])
    (directory / "identity.acl").write_text(acls[1])
    config = directory / "mosquitto.conf"
    config.write_text(
        f"""\
per_listener_settings true
persistence false
user {getpass.getuser()}
log_dest stderr
log_type error
log_type warning
set_tcp_nodelay true
listener {ports[0]} 127.0.0.1
allow_anonymous true
acl_file {directory / "device.acl"}
listener {ports[1]} 127.0.0.1
allow_anonymous true
acl_file {directory / "identity.acl"}
listener {ports[2]} 127.0.0.1
allow_anonymous true
"""
    )
    log = (directory / "mosquitto.log").open("wb")
    process = subprocess.Popen(
        [str(mosquitto.find_mosquitto()), "-c", str(config)], stdout=log, stderr=log
    )
    try:
        _wait_listening(process, ports)
        yield Broker(*ports, *acls)
    finally:
        process.terminate()
        process.wait(TIMEOUT)
        log.close()


def _wait_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...]) -> None:
    deadline = time.monotonic() + TIMEOUT
    for port in ports:
        while True:
            assert process.poll() is None, "mosquitto exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"mosquitto did not listen on {port}"
                time.sleep(0.02)


# ---------------------------------------------------------------- the matrix

RESPONSES = {
    "get": ("accepted", "rejected"),
    "update": ("accepted", "rejected", "delta", "documents"),
    "delete": ("accepted", "rejected"),
}


def topics_about(thing: str) -> list[str]:
    """Every topic of The Swan's families that names `thing` (or identity)."""
    topics = [f"iotbutton/{thing}"]
    for push in (f"swan/push/{thing}", f"swan/push/web/{thing}"):
        topics += [push, f"{push}/accepted", f"{push}/rejected"]
    for prefix in (f"$aws/things/{thing}/shadow", f"$aws/things/{thing}/shadow/name/lamp"):
        for operation, answers in RESPONSES.items():
            topics.append(f"{prefix}/{operation}")
            topics += [f"{prefix}/{operation}/{answer}" for answer in answers]
    return topics


def matrix(client_id: str) -> list[str]:
    things = dict.fromkeys([client_id, "pi-hall", "button", "web", IDENTITY, OTHER_IDENTITY])
    return [topic for thing in things for topic in topics_about(thing)]


def principal(template_deployment, role_mqtt, logical_id: str, client_id: str) -> Principal:
    context = template_deployment.context
    if logical_id == "DevicePolicy":
        who = PolicyContext(client_id, client_id, context.region, context.account_id)
        return Principal.of([template_deployment.policies[logical_id].document], who)
    who = PolicyContext(
        None, client_id, context.region, context.account_id, cognito_identity=client_id
    )
    return Principal.of(role_mqtt, who)


CASES = [
    ("DevicePolicy", "pi-kitchen"),
    ("DevicePolicy", "G030JF055364XVRB"),
    # A thing named so never connects (the policy's Deny, at the gateway: see the end); the
    # broker behind it still agrees with the policy for that name.
    ("DevicePolicy", "button"),
    ("DevicePolicy", "web"),
    (IDENTITY_ROLE, IDENTITY),
]


def endpoint(acl_broker: Broker, logical_id: str) -> tuple[int, str]:
    if logical_id == "DevicePolicy":
        return acl_broker.device_port, acl_broker.device_acl
    return acl_broker.identity_port, acl_broker.identity_acl


@pytest.mark.parametrize(("logical_id", "client_id"), CASES)
def test_the_broker_refuses_exactly_the_publishes_the_policy_refuses(
    acl_broker, template_deployment, role_mqtt, logical_id, client_id
):
    port, acl = endpoint(acl_broker, logical_id)
    who = principal(template_deployment, role_mqtt, logical_id, client_id)
    client = Mqtt5(port, client_id)
    try:
        answers = {topic: client.publish(topic) for topic in matrix(client_id)}
    finally:
        client.close()
    assert set(answers.values()) <= {SUCCESS, NO_SUBSCRIBERS, NOT_AUTHORIZED}
    on_the_broker = {topic: reason != NOT_AUTHORIZED for topic, reason in answers.items()}
    by_the_policy = {topic: who.can_publish(topic) for topic in answers}
    modelled = {topic: acl_allows(acl, client_id, Access.WRITE, topic) for topic in answers}
    assert on_the_broker == by_the_policy
    assert modelled == by_the_policy
    assert any(on_the_broker.values())
    assert not all(on_the_broker.values())


@pytest.mark.parametrize(("logical_id", "client_id"), CASES)
def test_the_broker_delivers_exactly_what_the_policy_lets_the_client_receive(
    acl_broker, template_deployment, role_mqtt, logical_id, client_id
):
    port, acl = endpoint(acl_broker, logical_id)
    who = principal(template_deployment, role_mqtt, logical_id, client_id)
    topics = matrix(client_id)
    receivable = [t for t in topics if who.can_subscribe(t) and who.can_receive(t)]
    client = Mqtt5(port, client_id)
    service = Mqtt5(acl_broker.service_port, unique("svc-"))
    try:
        # Mosquitto grants every subscription, however wide; the ACL filters the messages.
        assert client.subscribe("#") == GRANTED_QOS_1
        assert client.subscribe("$aws/#") == GRANTED_QOS_1
        for topic in topics:
            assert service.publish(topic, topic.encode()) in (SUCCESS, NO_SUBSCRIBERS)
        sentinel = unique("end-").encode()
        service.publish(receivable[-1], sentinel)
        received = client.receive_until(receivable[-1], sentinel)
    finally:
        client.close()
        service.close()
    delivered = [topic for topic, payload in received if payload == topic.encode()]
    assert delivered == receivable
    modelled = [t for t in topics if acl_allows(acl, client_id, Access.READ, t)]
    assert modelled == receivable


def test_a_client_id_unlike_a_thing_name_gets_nothing_from_the_patterns(acl_broker):
    # The gateway never lets one in; Mosquitto refuses + and # in ids for patterns anyway.
    client = Mqtt5(acl_broker.device_port, "a+b")
    try:
        assert client.publish("iotbutton/x") == NOT_AUTHORIZED
        assert client.publish("$aws/things/button/shadow/get") == NOT_AUTHORIZED
    finally:
        client.close()
    assert not acl_allows(
        acl_broker.device_acl, "a+b", Access.WRITE, "$aws/things/button/shadow/get"
    )


# ---------------------------------------------------------------- one source


def test_the_listener_acls_are_the_template_policies_translated(template_deployment, role_mqtt):
    context = template_deployment.context
    device = template_deployment.policies["DevicePolicy"].document
    things = listener_context(context.region, context.account_id, things=True)
    assert device_acl(template_deployment) == mosquitto_acl([device], things)
    identities = listener_context(context.region, context.account_id, things=False, identities=True)
    assert identity_acl(template_deployment, role_mqtt) == mosquitto_acl(role_mqtt, identities)


def test_the_broker_config_carries_the_acls_derived_from_the_template(
    template_deployment, role_mqtt, tmp_path
):
    plan = broker_plan(tmp_path, template_deployment, {IDENTITY_ROLE: role_mqtt})
    mosquitto.write_config(plan)
    assert (plan.directory / "acl-devices.conf").read_text() == device_acl(template_deployment)
    assert (plan.directory / "acl-identities.conf").read_text() == identity_acl(
        template_deployment, role_mqtt
    )
    assert sorted(path.name for path in plan.directory.glob("acl-*")) == [
        "acl-devices.conf",
        "acl-identities.conf",
        "acl-internal.conf",
    ]


# ---------------------------------------------------------------- the gateway, in front


@pytest.mark.parametrize("name", ["button", "web"])
def test_the_gateway_keeps_out_a_device_whose_thing_is_named_button_or_web(identity, name):
    # What JITR refuses, done by hand: an active certificate, DevicePolicy, the thing
    # attached. The policy's Deny on Connect keeps it off the broker, so the ACL's %c is never
    # "button" (nobody but the functions writes the button shadow) nor "web" (whose
    # swan/push/web/* would be every identity's push topics and answers).
    with pytest.raises(MqttError):
        connect(identity.provision(name), timeout=5)
    connect(identity.provision(unique(f"{name}-")), timeout=5).close()
