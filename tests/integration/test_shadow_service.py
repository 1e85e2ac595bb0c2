"""The shadow service on a real Mosquitto: devices over mTLS, the AWS SDK's shadow clients
(v1 and v2) unchanged, and a service process killed and restarted on the same database."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from awscrt import mqtt, mqtt5, mqtt_request_response
from awsiot import V2ServiceException, iotshadow, mqtt5_client_builder
from support import unique

from swan.adapters.clock import SystemClock
from swan.adapters.mqtt import connect
from swan.core.jsondoc import decode_json
from swan.core.topics import ShadowTopics
from swan.local.shadow_process import service_command
from swan.local.shadow_service import PASSWORD_VARIABLE, ShadowService
from swan.local.shadow_store import SqliteShadowStore

WAIT = 10.0
BURST = 2000
THINGS = 100  # the burst's things: 20 updates each, one thing's burst allowance
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shadows(service, tmp_path):
    with SqliteShadowStore(tmp_path / "shadows.db") as store:
        running = ShadowService(store, service, SystemClock())
        running.start()
        yield running
        running.stop()


@pytest.fixture
def thing():
    return unique("pi-")


@pytest.fixture
def device(identity, thing):
    transport = connect(identity.provision(thing))
    yield transport
    transport.close()


def collect(transport, topic_filter):
    received = queue.Queue()
    transport.subscribe(topic_filter, received.put)
    return received


def next_json(received):
    return received.get(timeout=WAIT).json()


def drain(received):
    """What has arrived so far, without waiting."""
    messages = []
    while not received.empty():
        messages.append(received.get_nowait())
    return messages


# ---------------------------------------------------------------------------- (a) a device


@pytest.mark.usefixtures("shadows")
def test_a_device_updates_its_own_shadow_and_hears_accepted_delta_documents(device, thing):
    topics = ShadowTopics(thing)
    accepted = collect(device, topics.update_accepted)
    delta = collect(device, topics.update_delta)
    documents = collect(device, topics.update_documents)
    request = {
        "state": {"reported": {"brightness": 3}, "desired": {"brightness": 5}},
        "clientToken": "dev-1",
    }
    device.publish(topics.update, json.dumps(request).encode()).result(WAIT)

    answer = next_json(accepted)
    assert (answer["version"], answer["clientToken"]) == (1, "dev-1")
    assert answer["state"] == request["state"]
    assert next_json(delta)["state"] == {"brightness": 5}
    current = next_json(documents)["current"]
    assert current["state"] == request["state"]

    # The device applies the desired value and reports it: no delta is left.
    device.publish(topics.update, b'{"state": {"reported": {"brightness": 5}}}').result(WAIT)
    assert next_json(accepted)["version"] == 2
    assert next_json(documents)["current"]["version"] == 2
    assert delta.empty()


@pytest.mark.usefixtures("shadows")
def test_a_device_gets_and_deletes_a_named_shadow(device, thing):
    topics = ShadowTopics(thing, "settings")
    got = collect(device, f"{topics.prefix}/get/+")
    deleted = collect(device, f"{topics.prefix}/delete/+")
    device.publish(topics.get, b'{"clientToken": "g0"}').result(WAIT)
    missing = got.get(timeout=WAIT)
    assert missing.topic == topics.get_rejected
    assert (missing.json()["code"], missing.json()["clientToken"]) == (404, "g0")

    device.publish(topics.update, b'{"state": {"desired": {"lowLight": true}}}').result(WAIT)
    device.publish(topics.get, b"").result(WAIT)
    found = got.get(timeout=WAIT)
    assert found.topic == topics.get_accepted
    assert found.json()["state"]["delta"] == {"lowLight": True}

    device.publish(topics.delete, b"").result(WAIT)
    assert deleted.get(timeout=WAIT).topic == topics.delete_accepted


@pytest.mark.usefixtures("shadows")
def test_bad_input_from_a_device_is_rejected_and_the_service_stays_up(device, service, thing):
    topics = ShadowTopics(thing)
    rejected = collect(device, topics.update_rejected)
    accepted = collect(device, topics.update_accepted)
    device.publish(topics.update, b"\x00\x01 not json").result(WAIT)
    assert next_json(rejected)["code"] == 400
    # Over 128 KB: the gateway drops it from a device; the service refuses it by itself too,
    # from a login that no gateway stands in front of.
    service.publish(topics.update, b"{" + b" " * 140_000 + b"}").result(WAIT)
    assert next_json(rejected)["code"] == 413
    device.publish(topics.update, b'{"state": {"reported": {"ok": true}}}').result(WAIT)
    assert next_json(accepted)["version"] == 1


# ---------------------------------------------------------------------------- AWS's limits

FLOOD = 500


@pytest.mark.usefixtures("shadows")
def test_a_flood_of_gets_on_one_thing_is_answered_429_and_other_things_are_served(service, thing):
    # From the service login: the gateway's per-connection limit must not thin the flood.
    flooded, other = ShadowTopics(f"{thing}-flooded"), ShadowTopics(f"{thing}-other")
    answers = collect(service, flooded.get_accepted)
    service.subscribe(flooded.get_rejected, answers.put)
    other_accepted = collect(service, other.update_accepted)
    body = b'{"state": {"reported": {"on": true}}, "clientToken": "made"}'
    service.publish(flooded.update, body).result(WAIT)
    started = time.monotonic()
    for n in range(FLOOD):
        service.publish(flooded.get, json.dumps({"clientToken": f"g{n}"}).encode())
    service.publish(other.update, b'{"state": {"reported": {"on": true}}, "clientToken": "o"}')
    assert next_json(other_accepted)["clientToken"] == "o"
    received = [answers.get(timeout=WAIT) for _ in range(FLOOD)]
    elapsed = time.monotonic() - started
    by_token = {message.json()["clientToken"]: message for message in received}
    assert sorted(by_token) == sorted(f"g{n}" for n in range(FLOOD)), "each answered once"
    documents = [m for m in received if m.topic == flooded.get_accepted]
    throttled = [m.json() for m in received if m.topic == flooded.get_rejected]
    assert 19 <= len(documents) <= 19 + 20 * elapsed + 1  # the update took one
    assert {(t["code"], t["message"]) for t in throttled} == {(429, "Rate exceeded")}
    # What every follower of the thing's get/accepted received stays small.
    assert sum(len(m.payload) for m in documents) < 200 * (20 + 20 * elapsed)


@pytest.mark.usefixtures("shadows")
def test_a_lone_surrogate_token_is_invalid_json_and_nothing_undecodable_reaches_followers(
    device, service, thing
):
    topics = ShadowTopics(thing)
    seen = collect(service, f"$aws/things/{thing}/shadow/#")
    rejected = collect(device, topics.get_rejected)
    device.publish(topics.update, b'{"state": {"reported": {"on": true}}}').result(WAIT)
    device.publish(topics.get, b'{"clientToken": "\\ud800"}').result(WAIT)
    assert next_json(rejected) == {
        "code": 400,
        "message": "Invalid JSON",
        "timestamp": pytest.approx(time.time(), abs=5),
    }
    device.publish(topics.get, b'{"clientToken": "after"}').result(WAIT)
    messages = []
    while not messages or messages[-1].topic != topics.get_accepted:
        messages.append(seen.get(timeout=WAIT))
    for message in messages:
        if message.topic.endswith(("/update", "/get")):
            continue  # the requests themselves
        decode_json(message.payload)
    assert [m.topic for m in messages if m.topic.endswith("/get/accepted")] == [topics.get_accepted]


@pytest.mark.usefixtures("shadows")
def test_a_message_over_128_kb_is_answered_413_and_the_service_carries_on(service, thing):
    topics = ShadowTopics(thing)
    rejected = collect(service, topics.get_rejected)
    service.publish(topics.get, b'{"clientToken": "' + b"x" * 200_000 + b'"}').result(WAIT)
    answer = next_json(rejected)
    assert (answer["code"], answer["message"]) == (
        413,
        "The payload exceeds the maximum size allowed",
    )
    assert "clientToken" not in answer
    service.publish(topics.get, b'{"clientToken": "small"}').result(WAIT)
    assert next_json(rejected) == {
        "code": 404,
        "message": f"No shadow exists with name: '{thing}'",
        "timestamp": pytest.approx(time.time(), abs=5),
        "clientToken": "small",
    }


# ---------------------------------------------------------------------------- (c) SDK v1


@pytest.mark.usefixtures("shadows")
def test_the_sdk_v1_shadow_client_round_trips(device, thing):
    client = iotshadow.IotShadowClient(device.connection)
    accepted, rejected, deltas, updated, got = (queue.Queue() for _ in range(5))
    qos = mqtt.QoS.AT_LEAST_ONCE
    subscriptions = [
        client.subscribe_to_update_shadow_accepted(
            iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos, accepted.put
        ),
        client.subscribe_to_update_shadow_rejected(
            iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos, rejected.put
        ),
        client.subscribe_to_shadow_delta_updated_events(
            iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing), qos, deltas.put
        ),
        client.subscribe_to_shadow_updated_events(
            iotshadow.ShadowUpdatedSubscriptionRequest(thing_name=thing), qos, updated.put
        ),
        client.subscribe_to_get_shadow_accepted(
            iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos, got.put
        ),
    ]
    for future, _topic in subscriptions:
        future.result(WAIT)

    state = iotshadow.ShadowState(desired={"mode": "clock"}, reported={"mode": "off"})
    request = iotshadow.UpdateShadowRequest(thing_name=thing, state=state, client_token="v1-a")
    client.publish_update_shadow(request, qos).result(WAIT)
    response = accepted.get(timeout=WAIT)
    assert (response.version, response.client_token) == (1, "v1-a")
    assert response.state.desired == {"mode": "clock"}
    delta = deltas.get(timeout=WAIT)
    assert (delta.state, delta.version) == ({"mode": "clock"}, 1)
    event = updated.get(timeout=WAIT)
    assert event.previous is None
    assert event.current.state.reported == {"mode": "off"}

    client.publish_get_shadow(
        iotshadow.GetShadowRequest(thing_name=thing, client_token="v1-g"), qos
    ).result(WAIT)
    document = got.get(timeout=WAIT)
    assert document.state.delta == {"mode": "clock"}
    assert document.client_token == "v1-g"

    stale = iotshadow.UpdateShadowRequest(
        thing_name=thing, state=state, version=99, client_token="v1-b"
    )
    client.publish_update_shadow(stale, qos).result(WAIT)
    error = rejected.get(timeout=WAIT)
    assert (error.code, error.message, error.client_token) == (409, "Version conflict", "v1-b")


# ---------------------------------------------------------------------------- (c) SDK v2


@pytest.fixture
def mqtt5_device(identity, thing):
    endpoint = identity.provision(thing)
    connected, stopped = threading.Event(), threading.Event()
    failures = queue.Queue()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=endpoint.host,
        port=endpoint.port,
        cert_filepath=str(endpoint.cert_file),
        pri_key_filepath=str(endpoint.key_file),
        ca_filepath=str(endpoint.ca_file),
        client_id=thing,
        enable_metrics_collection=False,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_connection_failure=lambda data: failures.put(data.exception),
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    client.start()
    assert connected.wait(WAIT), f"MQTT5 connection failed: {list(failures.queue)}"
    yield client
    client.stop(mqtt5.DisconnectPacket())
    assert stopped.wait(WAIT)


@pytest.mark.usefixtures("shadows")
def test_the_sdk_v2_shadow_client_round_trips(mqtt5_device, thing):
    options = mqtt_request_response.ClientOptions(
        max_request_response_subscriptions=4,
        max_streaming_subscriptions=2,
        operation_timeout_in_seconds=int(WAIT),
    )
    client = iotshadow.IotShadowClientV2(mqtt5_device, options)
    deltas, subscribed = queue.Queue(), threading.Event()
    stream = client.create_shadow_delta_updated_stream(
        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing),
        _stream_options(deltas.put, subscribed),
    )
    stream.open()
    assert subscribed.wait(WAIT)

    state = iotshadow.ShadowState(desired={"brightness": 7})
    request = iotshadow.UpdateShadowRequest(thing_name=thing, state=state)
    response = client.update_shadow(request).result(WAIT)
    assert response.version == 1
    assert response.state.desired == {"brightness": 7}
    assert deltas.get(timeout=WAIT).state == {"brightness": 7}

    document = client.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(WAIT)
    assert document.state.desired == {"brightness": 7}
    assert document.version == 1

    stale = iotshadow.UpdateShadowRequest(thing_name=thing, state=state, version=42)
    with pytest.raises(V2ServiceException) as caught:
        client.update_shadow(stale).result(WAIT)
    assert caught.value.modeled_error.code == 409
    assert caught.value.modeled_error.message == "Version conflict"

    deleted = client.delete_shadow(iotshadow.DeleteShadowRequest(thing_name=thing)).result(WAIT)
    assert deleted.version == 1
    with pytest.raises(V2ServiceException) as missing:
        client.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(WAIT)
    assert missing.value.modeled_error.code == 404
    assert missing.value.modeled_error.message == f"No shadow exists with name: '{thing}'"


def _stream_options(on_event, subscribed):
    from awsiot import ServiceStreamOptions  # noqa: PLC0415

    def status(event):
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    return ServiceStreamOptions(
        incoming_event_listener=on_event, subscription_status_listener=status
    )


# ---------------------------------------------------------------------------- (d) kill -9


class ServiceProcess:
    """`python -m swan.local.shadow_service` as a child process, its log lines in a queue."""

    def __init__(self, broker, database: Path) -> None:
        plan = broker.plan
        command = service_command(database, plan, client_id=unique("shadow-service-"), http_port=0)
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # The password comes from the environment, as the stack passes it (a random
            # password may start with "-", and argv is visible in `ps`).
            env={**os.environ, "PYTHONUNBUFFERED": "1", PASSWORD_VARIABLE: plan.service.password},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line.decode(errors="replace"))

    def wait_ready(self) -> str:
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"the shadow service never said it was ready: {seen}")
            seen.append(line)
            if "shadow service ready" in line:
                return line

    def output_after_exit(self) -> list[str]:
        """Every line logged, once the process has exited."""
        self.process.wait(WAIT)
        self._reader.join(WAIT)
        return drain(self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(WAIT)


@pytest.mark.reliability
def test_state_and_versions_survive_a_sigkill_in_the_middle_of_a_burst(
    broker, service, tmp_path, thing
):
    # AWS takes 20 requests a second per thing, so the burst goes round many things, each
    # getting a thing's burst allowance. Thing k's update n (0-based) sets count = n, carries
    # the token "k:n" and, in order, is that thing's version n + 1.
    database = tmp_path / "shadows.db"
    things = [ShadowTopics(f"{thing}-{k}", "config") for k in range(THINGS)]
    rounds = BURST // THINGS
    every = "$aws/things/+/shadow/name/config"
    accepted = collect(service, f"{every}/update/accepted")
    got = collect(service, f"{every}/get/accepted")
    service.subscribe(f"{every}/get/rejected", got.put)  # a thing never updated: 404

    first = ServiceProcess(broker, database)
    try:
        first.wait_ready()
        sent = [
            service.publish(
                topics.update,
                json.dumps(
                    {"state": {"reported": {"count": n}}, "clientToken": f"{k}:{n}"}
                ).encode(),
            )
            for n in range(rounds)
            for k, topics in enumerate(things)
        ]
        acknowledged = [next_json(accepted) for _ in range(20)]
        for future in sent:  # all of them are with the broker now
            future.result(WAIT)
    finally:
        first.kill()  # with updates still waiting for the service
    assert first.process.returncode == -signal.SIGKILL
    assert [answer["clientToken"] for answer in acknowledged] == [f"{k}:0" for k in range(20)]

    second = ServiceProcess(broker, database)
    try:
        second.wait_ready()
        acknowledged += [message.json() for message in drain(accepted)]
        versions = []
        for k, topics in enumerate(things):
            service.publish(topics.get, json.dumps({"clientToken": f"get {k}"}).encode())
            document = next_json(got)
            assert document["clientToken"] == f"get {k}"
            if document.get("code") == 404:  # the kill came before its first update
                versions.append(0)
                continue
            # Nothing half-written: the count is that of the update with this version.
            assert document["state"] == {"reported": {"count": document["version"] - 1}}
            versions.append(document["version"])
        # Every acknowledged update is on disk, and the kill came before the end of the burst.
        for answer in acknowledged:
            k, n = map(int, answer["clientToken"].split(":"))
            assert answer["version"] == n + 1 <= versions[k]
        assert sum(versions) < BURST
        body = b'{"state": {"reported": {"count": 0}}, "clientToken": "next"}'
        service.publish(things[0].update, body).result(WAIT)
        answer = next_json(accepted)
        assert (answer["clientToken"], answer["version"]) == ("next", versions[0] + 1)
    finally:
        assert second.stop() == 0


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_oversized_updates_are_refused_and_do_not_leave_the_process_grown(
    broker, service, tmp_path, thing
):
    topics = ShadowTopics(thing)
    accepted = collect(service, topics.update_accepted)
    rejected = collect(service, topics.update_rejected)
    running = ServiceProcess(broker, tmp_path / "shadows.db")
    try:
        running.wait_ready()
        service.publish(topics.update, b'{"state": {"reported": {"n": 0}}}').result(WAIT)
        assert next_json(accepted)["version"] == 1
        before = resident_bytes(running.process.pid)
        huge = b'{"state": {"reported": {"x": "' + b"y" * (16 * 1024 * 1024) + b'"}}}'
        for _ in range(4):
            service.publish(topics.update, huge).result(WAIT)
            assert next_json(rejected)["code"] == 413
        grown = resident_bytes(running.process.pid) - before
        # The MQTT client keeps one buffer the size of the largest packet it has read (the
        # broker is the place to refuse it first); nothing else may stay.
        assert grown < 20 * 1024 * 1024, f"{grown / 2**20:.0f} MiB still held"
    finally:
        assert running.stop() == 0


def test_the_service_process_reports_a_damaged_database_and_exits_1(broker, tmp_path):
    database = tmp_path / "shadows.db"
    database.write_bytes(b"not a database at all\n" * 200)
    process = ServiceProcess(broker, database)
    assert process.process.wait(WAIT) == 1
    lines = process.output_after_exit()
    assert any(str(database) in line and "not an SQLite database" in line for line in lines)


def test_a_second_service_process_on_the_same_database_is_refused(broker, tmp_path):
    database = tmp_path / "shadows.db"
    owner = ServiceProcess(broker, database)
    try:
        owner.wait_ready()
        intruder = ServiceProcess(broker, database)
        assert intruder.process.wait(WAIT) == 1
        lines = intruder.output_after_exit()
        assert any("in use by another process" in line for line in lines)
    finally:
        assert owner.stop() == 0


def test_the_service_process_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "swan.local.shadow_service", "--help"],
        cwd=REPO,
        capture_output=True,
        timeout=WAIT,
        check=True,
    )
    assert b"--db" in result.stdout
    assert b"--http-port" in result.stdout


@pytest.mark.parametrize(
    ("option", "rule"),
    [("--port=70000", "1-65535"), ("--http-port=65536", "0 = any free port")],
)
def test_the_service_process_refuses_a_port_that_is_none_by_the_rule(tmp_path, option, rule):
    where = [option] if option.startswith("--port") else ["--port=1883", option]
    result = subprocess.run(
        [sys.executable, "-m", "swan.local.shadow_service", f"--db={tmp_path / 's.db'}", *where],
        cwd=REPO,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 2
    assert b"must be a port number" in result.stderr
    assert rule.encode() in result.stderr
    assert not (tmp_path / "s.db").exists()
