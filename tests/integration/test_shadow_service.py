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
from pathlib import Path

import pytest
from awscrt import mqtt, mqtt5, mqtt_request_response
from awsiot import V2ServiceException, iotshadow, mqtt5_client_builder
from support import unique

from swan.adapters.clock import SystemClock
from swan.adapters.mqtt import connect
from swan.core.topics import ShadowTopics
from swan.local.shadow_process import service_command
from swan.local.shadow_service import PASSWORD_VARIABLE, ShadowService
from swan.local.shadow_store import SqliteShadowStore

WAIT = 10.0
BURST = 2000
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
def test_bad_input_from_a_device_is_rejected_and_the_service_stays_up(device, thing):
    topics = ShadowTopics(thing)
    rejected = collect(device, topics.update_rejected)
    accepted = collect(device, topics.update_accepted)
    device.publish(topics.update, b"\x00\x01 not json").result(WAIT)
    assert next_json(rejected)["code"] == 400
    device.publish(topics.update, b"{" + b" " * 140_000 + b"}").result(WAIT)
    assert next_json(rejected)["code"] == 413
    device.publish(topics.update, b'{"state": {"reported": {"ok": true}}}').result(WAIT)
    assert next_json(accepted)["version"] == 1


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
    database = tmp_path / "shadows.db"
    topics = ShadowTopics(thing, "config")
    accepted = collect(service, topics.update_accepted)
    got = collect(service, topics.get_accepted)

    first = ServiceProcess(broker, database)
    try:
        first.wait_ready()
        # Update n sets count = n; in order, update n is version n.
        sent = [
            service.publish(
                topics.update, json.dumps({"state": {"reported": {"count": n}}}).encode()
            )
            for n in range(1, BURST + 1)
        ]
        acknowledged = [next_json(accepted)["version"] for _ in range(20)]
        for future in sent:  # all of them are with the broker now
            future.result(WAIT)
    finally:
        first.kill()  # with updates still waiting for the service
    assert first.process.returncode == -signal.SIGKILL
    assert acknowledged == list(range(1, 21))

    second = ServiceProcess(broker, database)
    try:
        second.wait_ready()
        service.publish(topics.get, b'{"clientToken": "after"}').result(WAIT)
        document = next_json(got)
        version = document["version"]
        # Every acknowledged update is on disk, and nothing is half-written.
        acknowledged += [message.json()["version"] for message in drain(accepted)]
        assert max(acknowledged) <= version < BURST
        assert document["state"] == {"reported": {"count": version}}
        assert document["clientToken"] == "after"
        body = b'{"state": {"reported": {"count": 0}}, "clientToken": "next"}'
        service.publish(topics.update, body).result(WAIT)
        answer = next_json(accepted)
        assert (answer["clientToken"], answer["version"]) == ("next", version + 1)
    finally:
        assert second.stop() == 0


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
