"""MQTT over a SigV4-presigned WebSocket at the local gateway, as a browser's Cognito
identity reaches AWS IoT Core: what a client gets in, and everything it is refused, as the
client observes it (the HTTP status of the upgrade before any MQTT; CONNACK, SUBACK, a
publish delivered or not, the connection closed after).

The URLs refused here are presigned by awscrt's signer as the AWS IoT Device SDKs presign
theirs (query-string SigV4 for `iotdevicegateway`, the host header signed, the session token
appended after signing: "When authenticating requests using query parameters with temporary
security credentials ... do not include X-Amz-Security-Token in the canonical query string",
https://docs.aws.amazon.com/iot/latest/developerguide/iam-users-groups-roles.html), then
changed one way each; the handshake and frames go over a plain socket through wsproto.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from awscrt.auth import AwsCredentialsProvider
from botocore import UNSIGNED
from botocore.config import Config
from support import free_ports, start_local_stack, unique
from websocket_support import (
    CONNACK_ACCEPTED,
    Door,
    RawClient,
    dial,
    mqtt_publish,
    mqtt_subscribe,
    presign,
    presign_by_botocore,
    tampered,
)

from swan.adapters.mqtt import MqttError, connect
from swan.adapters.mqtt_websocket import (
    CognitoLogin,
    Credentials,
    connect_websocket,
    credentials_provider,
)
from swan.core.codecs import PushRequest
from swan.core.countdown import Rules
from swan.core.topics import BUTTON_SHADOW
from swan.local.stack import LocalStack

REGION = "us-east-1"
WAIT = 10
SHORT_CREDENTIALS = 4  # seconds: the second stack's credentials, to watch them expire
SUBACK_FAILURE = 0x80
MOST_DOCUMENTS = 20  # shadow documents a test reads past, at most
PAGES = 10  # raw clients held open at once


# ---------------------------------------------------------------- identities


@dataclass(frozen=True)
class Identity:
    """A Cognito identity of the stack's pool and one set of its credentials."""

    id: str
    access_key_id: str
    secret_key: str
    session_token: str
    expiration: float


class Pool:
    """The stack's identity pool, through boto3 unsigned as a browser's SDK calls it."""

    def __init__(self, stack: LocalStack) -> None:
        endpoints = stack.endpoints()
        self.pool_id = endpoints.identity_pool_id
        self.client = boto3.client(
            "cognito-identity",
            endpoint_url=endpoints.cognito,
            region_name=REGION,
            config=Config(signature_version=UNSIGNED),
        )

    def new_identity(self) -> Identity:
        return self.credentials(self.client.get_id(IdentityPoolId=self.pool_id)["IdentityId"])

    def credentials(self, identity_id: str) -> Identity:
        answer = self.client.get_credentials_for_identity(IdentityId=identity_id)
        issued = answer["Credentials"]
        return Identity(
            identity_id,
            issued["AccessKeyId"],
            issued["SecretKey"],
            issued["SessionToken"],
            issued["Expiration"].timestamp(),
        )


def presign_for(door: Door, identity: Identity, **changes) -> str:
    """A URL presigned by `identity`'s credentials, as the SDKs presign it (then changed)."""
    return presign(
        door.host,
        identity.access_key_id,
        identity.secret_key,
        identity.session_token,
        **{"region": REGION} | changes,
    )


def presign_with(host: str, access_key_id: str, secret: str, token: str | None) -> str:
    """A URL for `host` presigned by these keys, as the SDKs presign it."""
    return presign(host, access_key_id, secret, token, region=REGION)


def wss_client(stack: LocalStack, **options) -> contextlib.AbstractContextManager[RawClient]:
    """A raw client on the stack's wss door."""
    return dial(wss(stack), stack.endpoints().ca_file, **options)


def upgrade(stack: LocalStack, target: str, *, host: str | None = None) -> tuple[int, str]:
    """The HTTP status and body the wss door answers an upgrade to `target` with."""
    with wss_client(stack) as client:
        status, body = client.upgrade(host or wss(stack).host, target)
    return status, body.decode()


def wss(stack: LocalStack) -> Door:
    return Door.of(str(stack.endpoints().mqtt_wss))


def login(stack: LocalStack) -> CognitoLogin:
    endpoints = stack.endpoints()
    return CognitoLogin(
        endpoint="localhost",
        region=REGION,
        identity_pool_id=str(endpoints.identity_pool_id),
        port=wss(stack).port,
        ca_file=endpoints.ca_file,
    )


def static_provider(identity: Identity) -> AwsCredentialsProvider:
    return AwsCredentialsProvider.new_static(
        identity.access_key_id, identity.secret_key, identity.session_token
    )


def push_topic(identity_id: str) -> str:
    return f"swan/push/web/{identity_id}"


def push_payload(token: str) -> bytes:
    return json.dumps(PushRequest(token, "web").to_payload()).encode()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_local_stack(tmp_path_factory.mktemp("state"), Rules())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def pool(stack):
    return Pool(stack)


@pytest.fixture(scope="module")
def short_stack(tmp_path_factory):
    """A second stack whose identities' credentials live a few seconds only."""
    state = tmp_path_factory.mktemp("short")
    running = LocalStack(
        state,
        Rules(),
        certs_dir=state / "certs",
        ports=free_ports(),
        cognito_credentials_seconds=SHORT_CREDENTIALS,
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def watch(stack):
    """Subscribe a service connection (the broker's internal listener) to a filter: what
    reaches the broker there, in order."""
    transport = connect(stack.service_endpoint(unique("watch-")))

    def listen(topic_filter):
        received = queue.Queue()
        transport.subscribe(topic_filter, received.put)
        return received

    yield listen
    transport.close()


@contextlib.contextmanager
def web_client(stack: LocalStack, identity: Identity, **options):
    transport = connect_websocket(login(stack), identity.id, static_provider(identity), **options)
    try:
        yield transport
    finally:
        transport.close()


def pushed_by(who: str):
    return lambda reported: reported["lastPush"]["by"] == who


def next_reported(documents: queue.Queue, wanted) -> dict:
    """The reported state of the next shadow document `wanted` accepts (those of pushes
    before, written late, are passed over)."""
    for _ in range(MOST_DOCUMENTS):
        reported = documents.get(timeout=WAIT).json()["current"]["state"]["reported"]
        if wanted(reported):
            return reported
    pytest.fail(f"no such document among the next {MOST_DOCUMENTS}")


def device_push(stack: LocalStack) -> str:
    """A device pushes the button (as a Pi does, over mTLS): its thing name."""
    thing = unique("pi-")
    device = connect(stack.device_endpoint(thing))
    try:
        payload = json.dumps(PushRequest(unique("tok-"), "pi").to_payload()).encode()
        device.publish(f"swan/push/{thing}", payload).result(WAIT)
    finally:
        device.close()
    return thing


# ---------------------------------------------------------------- 1. the way in


def test_an_identity_follows_the_button_shadow_and_its_push_is_accepted(stack, pool, watch):
    earlier = device_push(stack)
    next_reported(watch(BUTTON_SHADOW.update_documents), pushed_by(earlier))  # the shadow exists
    identity = pool.new_identity()
    gets, documents, answers = queue.Queue(), queue.Queue(), queue.Queue()
    with web_client(stack, identity) as client:
        client.subscribe(BUTTON_SHADOW.get_accepted, gets.put)
        client.subscribe(BUTTON_SHADOW.update_documents, documents.put)
        client.subscribe(f"{push_topic(identity.id)}/accepted", answers.put)
        client.publish(BUTTON_SHADOW.get, b"{}").result(WAIT)
        shadow = gets.get(timeout=WAIT).json()
        thing = device_push(stack)
        after_the_device = next_reported(documents, pushed_by(thing))
        token = unique("tok-")
        client.publish(push_topic(identity.id), push_payload(token)).result(WAIT)
        answer = answers.get(timeout=WAIT).json()
        after_mine = next_reported(documents, pushed_by("web"))
    assert shadow["state"]["reported"]["lastPush"]["by"] == earlier
    assert after_the_device["phase"] == "counting"
    assert answer["clientToken"] == token
    assert answer["deadline"] == after_mine["deadline"]
    assert after_mine["lastPush"]["source"] == "web"


def test_each_identity_is_its_own_rate_limit_principal(stack, pool):
    first, second = pool.new_identity(), pool.new_identity()
    answers = {first.id: queue.Queue(), second.id: queue.Queue()}
    with web_client(stack, first) as one, web_client(stack, second) as two:
        for client, identity in ((one, first), (two, second)):
            for outcome in ("accepted", "rejected"):
                client.subscribe(f"{push_topic(identity.id)}/{outcome}", answers[identity.id].put)
        sent = [
            one.publish(push_topic(first.id), push_payload("first-1")),
            two.publish(push_topic(second.id), push_payload("second-1")),
            one.publish(push_topic(first.id), push_payload("first-2")),
        ]
        for publish in sent:
            publish.result(WAIT)
        firsts = [answers[first.id].get(timeout=WAIT) for _ in range(2)]
        seconds = answers[second.id].get(timeout=WAIT)
    outcomes = {m.topic.rsplit("/", 1)[1]: m.json() for m in firsts}
    assert set(outcomes) == {"accepted", "rejected"}  # the same identity, within a second
    assert outcomes["rejected"]["reason"] == "rate_limited"
    assert seconds.topic.endswith("/accepted")  # another identity, the same second
    assert seconds.json()["clientToken"] == "second-1"


def open_files(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def test_pages_are_held_by_the_doors_own_process_not_the_stacks(stack, pool):
    # Each page takes two descriptors (its connection, the relay's to the broker): the
    # door's, in a process of its own, so that devices and pages each have a process's
    # open-file limit. This process holds the stack and the test's own clients (one each).
    door = stack.running.door.pid
    assert door not in (None, os.getpid())
    before = open_files(os.getpid()), open_files(door)
    with contextlib.ExitStack() as held:
        for _ in range(PAGES):
            identity = pool.new_identity()
            client = held.enter_context(wss_client(stack))
            assert client.upgrade(wss(stack).host, presign_for(wss(stack), identity))[0] == 101
            assert client.connect(identity.id) == CONNACK_ACCEPTED
        during = open_files(os.getpid()), open_files(door)
    assert during[1] - before[1] >= 2 * PAGES
    assert during[0] - before[0] < 2 * PAGES


def test_a_url_presigned_as_the_sdks_do_is_upgraded_on_both_doors(stack, pool):
    endpoints = stack.endpoints()
    for url in (endpoints.mqtt_wss, endpoints.mqtt_ws):
        identity = pool.new_identity()  # one CONNECT a second per client id
        door = Door.of(str(url))
        with dial(door, stack.endpoints().ca_file) as client:
            assert client.upgrade(door.host, presign_for(door, identity)) == (101, b"")
            assert client.connect(identity.id) == CONNACK_ACCEPTED


def test_a_url_with_its_own_expiry_is_upgraded_until_then(stack, pool):
    identity = pool.new_identity()
    door = wss(stack)
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    assert upgrade(stack, presign_for(door, identity, expires=300)) == (101, "")
    assert upgrade(stack, presign_for(door, identity, signed_at=a_minute_ago)) == (101, "")


def test_a_url_that_also_signs_the_subprotocol_header_is_upgraded(stack, pool):
    # botocore's signer signs every header it is handed; AWS verifies each header listed.
    identity = pool.new_identity()
    door = wss(stack)
    target = presign_by_botocore(
        door.host,
        identity.access_key_id,
        identity.secret_key,
        identity.session_token,
        region=REGION,
        headers={"Sec-WebSocket-Protocol": "mqtt"},  # as the raw client sends it
    )
    assert "X-Amz-SignedHeaders=host%3Bsec-websocket-protocol" in target
    assert upgrade(stack, target) == (101, "")


# ---------------------------------------------------------------- 2. refused before MQTT
# Each is answered 403 (404 for another path); the body names the reason in AWS's words
# (swan/local/sigv4.py cites them), so that each test fails for the reason it names.

MISMATCH = "The request signature we calculated does not match"
INVALID_TOKEN = "The security token included in the request is invalid."


def test_a_tampered_signature_is_refused(stack, pool):
    target = tampered(presign_for(wss(stack), pool.new_identity()))
    status, body = upgrade(stack, target)
    assert status == 403
    assert MISMATCH in body


def test_a_url_signed_for_another_region_is_refused(stack, pool):
    target = presign_for(wss(stack), pool.new_identity(), region="eu-west-1")
    status, body = upgrade(stack, target)
    assert status == 403
    assert "scoped to a valid region, not 'eu-west-1'" in body


def test_a_url_signed_for_another_service_is_refused(stack, pool):
    target = presign_for(wss(stack), pool.new_identity(), service="iotdata")
    status, body = upgrade(stack, target)
    assert status == 403
    assert "scoped to correct service" in body


def test_a_signature_older_than_five_minutes_is_refused_without_an_expiry(stack, pool):
    six_minutes_ago = datetime.now(UTC) - timedelta(minutes=6)
    target = presign_for(wss(stack), pool.new_identity(), signed_at=six_minutes_ago)
    status, body = upgrade(stack, target)
    assert status == 403
    assert "Signature expired" in body


def test_a_url_past_its_own_expiry_is_refused(stack, pool):
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    target = presign_for(wss(stack), pool.new_identity(), signed_at=two_minutes_ago, expires=60)
    status, body = upgrade(stack, target)
    assert status == 403
    assert "Signature expired" in body


def test_a_signature_dated_after_the_allowed_skew_is_refused(stack, pool):
    in_six_minutes = datetime.now(UTC) + timedelta(minutes=6)
    target = presign_for(wss(stack), pool.new_identity(), signed_at=in_six_minutes)
    status, body = upgrade(stack, target)
    assert status == 403
    assert "Signature not yet current" in body


def test_an_unknown_access_key_is_refused(stack):
    target = presign_with(wss(stack).host, "ASIA" + "Q" * 16, "made-up-secret", "made-up-token")
    status, body = upgrade(stack, target)
    assert status == 403
    assert INVALID_TOKEN in body


def test_a_known_key_with_another_session_token_is_refused(stack, pool):
    identity, other = pool.new_identity(), pool.new_identity()
    door = wss(stack)
    target = presign_with(
        door.host, identity.access_key_id, identity.secret_key, other.session_token
    )
    status, body = upgrade(stack, target)
    assert status == 403
    assert INVALID_TOKEN in body


def test_temporary_credentials_without_their_token_are_refused(stack, pool):
    identity = pool.new_identity()
    target = presign_with(wss(stack).host, identity.access_key_id, identity.secret_key, None)
    status, body = upgrade(stack, target)
    assert status == 403
    assert INVALID_TOKEN in body


def test_the_session_token_signed_into_the_query_is_refused(stack, pool):
    target = presign_for(wss(stack), pool.new_identity(), sign_token=True)
    assert "X-Amz-Security-Token=" in target
    status, body = upgrade(stack, target)
    assert status == 403
    assert MISMATCH in body


def test_the_administrators_keys_are_refused(stack):
    admin = stack.credentials.admin
    target = presign_with(wss(stack).host, admin.access_key_id, admin.secret_access_key, None)
    assert upgrade(stack, target)[0] == 403


def test_a_function_roles_keys_are_refused(stack):
    host = wss(stack).host
    for key in stack.credentials.roles.values():
        target = presign_with(host, key.access_key_id, key.secret_access_key, key.session_token)
        assert upgrade(stack, target)[0] == 403, key.principal_arn


def test_a_host_that_is_not_this_machine_is_refused(stack, pool):
    host = f"swan.example.com:{wss(stack).port}"
    identity = pool.new_identity()
    target = presign_with(host, identity.access_key_id, identity.secret_key, identity.session_token)
    assert upgrade(stack, target, host=host)[0] == 403


def test_another_path_is_not_found(stack, pool):
    target = presign_for(wss(stack), pool.new_identity(), path="/other")
    assert upgrade(stack, target)[0] == 404


def test_a_request_that_is_not_a_websocket_upgrade_is_refused(stack, pool):
    door = wss(stack)
    target = presign_for(door, pool.new_identity())
    with wss_client(stack) as client:
        request = f"GET {target} HTTP/1.1\r\nHost: {door.host}\r\nConnection: close\r\n\r\n"
        client.sock.sendall(request.encode())
        status_line = client.sock.makefile("rb").readline()
    assert 400 <= int(status_line.split()[1]) < 500


def test_expired_credentials_are_refused_after_the_connection_they_opened_is_dropped(
    short_stack,
):
    identity = Pool(short_stack).new_identity()
    door = wss(short_stack)
    with wss_client(short_stack, timeout=SHORT_CREDENTIALS + WAIT) as client:
        assert client.upgrade(door.host, presign_for(door, identity))[0] == 101
        assert client.connect(identity.id) == CONNACK_ACCEPTED
        assert client.packet() is None  # the gateway closes it when the credentials expire
    assert time.time() >= identity.expiration - 0.1
    target = presign_for(door, identity)  # signed now, by credentials past their expiration
    status, body = upgrade(short_stack, target)
    assert status == 403
    assert "expired" in body


# ---------------------------------------------------------------- 3. refused after the upgrade


def test_connecting_as_another_identity_is_refused(stack, pool):
    identity, other = pool.new_identity(), pool.new_identity()
    with pytest.raises(MqttError, match="connect"):  # awsiotsdk: the connection hung up
        connect_websocket(login(stack), other.id, static_provider(identity), timeout=WAIT)
    door = wss(stack)
    with wss_client(stack) as client:
        assert client.upgrade(door.host, presign_for(door, identity))[0] == 101
        assert client.connect(other.id) is None  # closed, no CONNACK at all


def test_subscribing_outside_the_role_is_refused_with_0x80(stack, pool):
    identity, other = pool.new_identity(), pool.new_identity()
    door = wss(stack)
    own = f"{push_topic(identity.id)}/accepted"
    theirs = f"{push_topic(other.id)}/accepted"
    with wss_client(stack) as client:
        client.upgrade(door.host, presign_for(door, identity))
        assert client.connect(identity.id) == CONNACK_ACCEPTED
        client.send(mqtt_subscribe(7, own, theirs, "swan/#", "$aws/things/button/shadow/update"))
        suback = client.packet()
    assert suback is not None
    assert suback[0] == 0x90
    assert suback[2:4] == (7).to_bytes(2, "big")
    assert list(suback[4:]) == [1, SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE]


def test_a_refused_subscription_leaves_the_connection_working(stack, pool):
    identity, other = pool.new_identity(), pool.new_identity()
    answers = queue.Queue()
    with web_client(stack, identity) as client:
        for topic_filter in (f"{push_topic(other.id)}/accepted", "swan/#"):
            with pytest.raises(MqttError, match="subscribe"):
                client.subscribe(topic_filter, answers.put)
        client.subscribe(f"{push_topic(identity.id)}/accepted", answers.put)
        client.publish(push_topic(identity.id), push_payload("still-here")).result(WAIT)
        assert answers.get(timeout=WAIT).json()["clientToken"] == "still-here"


def test_pushing_on_another_identitys_topic_is_neither_delivered_nor_acted_on(stack, pool, watch):
    identity, other = pool.new_identity(), pool.new_identity()
    heard = watch("swan/push/web/#")  # awscrt hands `a/#` no message on `a` itself
    door = wss(stack)
    with wss_client(stack) as client:
        client.upgrade(door.host, presign_for(door, identity))
        assert client.connect(identity.id) == CONNACK_ACCEPTED
        client.send(mqtt_publish(push_topic(other.id), push_payload("forged"), 3))
        assert client.packet() is None  # no PUBACK: MQTT 3.1.1 is disconnected
    # The other identity pushes for itself now: the first thing the broker carries on its
    # topics is that push, and it is accepted (the forged one would have rate-limited it).
    answers = queue.Queue()
    with web_client(stack, other) as client:
        for outcome in ("accepted", "rejected"):  # the role names each, not `+`
            client.subscribe(f"{push_topic(other.id)}/{outcome}", answers.put)
        client.publish(push_topic(other.id), push_payload("genuine")).result(WAIT)
        answer = answers.get(timeout=WAIT)
    first = heard.get(timeout=WAIT)
    while not first.topic.startswith(push_topic(other.id)):  # another identity's traffic
        first = heard.get(timeout=WAIT)
    assert (first.topic, first.json()["clientToken"]) == (push_topic(other.id), "genuine")
    assert answer.topic == f"{push_topic(other.id)}/accepted"


def test_updating_the_button_shadow_is_neither_delivered_nor_acted_on(stack, pool, watch):
    identity = pool.new_identity()
    heard = watch("$aws/things/button/shadow/#")
    door = wss(stack)
    token = unique("forged-")
    update = {"state": {"reported": {"phase": "failed"}}, "clientToken": token}
    with wss_client(stack) as client:
        client.upgrade(door.host, presign_for(door, identity))
        assert client.connect(identity.id) == CONNACK_ACCEPTED
        client.send(mqtt_publish(BUTTON_SHADOW.update, json.dumps(update).encode(), 5))
        assert client.packet() is None
    thing = device_push(stack)  # then a genuine push writes the shadow
    seen = [heard.get(timeout=WAIT)]
    while not is_document_of(seen[-1], thing) and len(seen) < MOST_DOCUMENTS:
        seen.append(heard.get(timeout=WAIT))
    assert is_document_of(seen[-1], thing)
    assert all(message.topic != BUTTON_SHADOW.update for message in seen)
    assert all(token.encode() not in message.payload for message in seen)
    assert seen[-1].json()["current"]["state"]["reported"]["phase"] == "counting"


def is_document_of(message, thing: str) -> bool:
    """Whether `message` is the button shadow's document of a push by `thing`."""
    return message.topic == BUTTON_SHADOW.update_documents and pushed_by(thing)(
        message.json()["current"]["state"]["reported"]
    )


def test_a_text_frame_closes_the_connection(stack, pool):
    identity = pool.new_identity()
    door = wss(stack)
    with wss_client(stack) as client:
        client.upgrade(door.host, presign_for(door, identity))
        assert client.connect(identity.id) == CONNACK_ACCEPTED
        client.send_text("not MQTT")
        assert client.packet() is None
        assert client.close_code == 1003  # RFC 6455: a type of data it cannot accept
        assert client.sock.recv(1) == b""  # and the server closed the socket


# ---------------------------------------------------------------- 4. credentials expire


def test_a_client_is_dropped_when_its_credentials_expire_and_reconnects_with_fresh_ones(
    short_stack,
):
    identities = Pool(short_stack)
    identity_id = identities.new_identity().id
    issued: list[Identity] = []

    def fresh() -> Credentials:
        got = identities.credentials(identity_id)
        issued.append(got)
        return Credentials(
            got.access_key_id, got.secret_key, got.session_token, got.expiration, time.time()
        )

    interrupted, resumed = threading.Event(), threading.Event()
    dropped_at: list[float] = []

    def on_interrupted(_error):
        dropped_at.append(time.time())
        interrupted.set()

    transport = connect_websocket(
        login(short_stack),
        identity_id,
        credentials_provider(fresh),
        on_interrupted=on_interrupted,
        on_resumed=resumed.set,
    )
    answers = queue.Queue()
    try:
        assert interrupted.wait(SHORT_CREDENTIALS + WAIT)
        assert resumed.wait(WAIT)
        transport.subscribe(f"{push_topic(identity_id)}/accepted", answers.put)
        transport.publish(push_topic(identity_id), push_payload("after")).result(WAIT)
        answer = answers.get(timeout=WAIT).json()
    finally:
        transport.close()
    assert dropped_at[0] >= issued[0].expiration - 0.1  # not before they expired
    assert len({credentials.access_key_id for credentials in issued}) >= 2
    assert answer["clientToken"] == "after"
