"""boto3's iot-data client, unchanged, against the local data plane over a real Mosquitto."""

from __future__ import annotations

import http.client
import json
import queue
import time
from urllib.parse import urlsplit

import pytest
from botocore.config import Config
from support import local_boto3, unique

from swan.adapters.clock import SystemClock
from swan.core.topics import ShadowTopics
from swan.local.dataplane import DataPlane, DataPlaneError
from swan.local.shadow_service import ShadowService
from swan.local.shadow_store import SqliteShadowStore

WAIT = 5.0


@pytest.fixture
def shadows(service, tmp_path):
    with SqliteShadowStore(tmp_path / "shadows.db") as store:
        running = ShadowService(store, service, SystemClock())
        running.start()
        yield running
        running.stop()


@pytest.fixture
def dataplane(shadows, service):
    server = DataPlane(shadows, service)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def iot_data(dataplane):
    client = local_boto3(
        "iot-data",
        dataplane.url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )
    yield client
    client.close()


@pytest.fixture
def thing():
    return unique("lamp-")


def collect(transport, topic_filter):
    received = queue.Queue()
    transport.subscribe(topic_filter, received.put)
    return received


def document(response):
    return json.loads(response["payload"].read())


def update(iot_data, thing, request, **kwargs):
    return document(
        iot_data.update_thing_shadow(thingName=thing, payload=json.dumps(request), **kwargs)
    )


def raw(dataplane, method, target, body=None, headers=None):
    parts = urlsplit(dataplane.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------------------- shadows


def test_update_get_delete(iot_data, thing):
    accepted = update(iot_data, thing, {"state": {"desired": {"on": True}}, "clientToken": "b1"})
    assert (accepted["version"], accepted["clientToken"]) == (1, "b1")
    got = document(iot_data.get_thing_shadow(thingName=thing))
    assert got["state"] == {"desired": {"on": True}, "delta": {"on": True}}
    assert isinstance(got["metadata"]["desired"]["on"]["timestamp"], int)
    deleted = document(iot_data.delete_thing_shadow(thingName=thing))
    assert deleted["version"] == 1
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException, match=thing):
        iot_data.get_thing_shadow(thingName=thing)
    assert update(iot_data, thing, {"state": {"reported": {"on": True}}})["version"] == 2


def test_named_shadows_and_their_listing(iot_data, thing):
    for name in ("gamma", "alpha", "beta"):
        update(iot_data, thing, {"state": {"reported": {"n": name}}}, shadowName=name)
    iot_data.delete_thing_shadow(thingName=thing, shadowName="beta")
    update(iot_data, thing, {"state": {"reported": {"classic": True}}})
    got = document(iot_data.get_thing_shadow(thingName=thing, shadowName="alpha"))
    assert got["state"] == {"reported": {"n": "alpha"}}

    first = iot_data.list_named_shadows_for_thing(thingName=thing, pageSize=1)
    assert first["results"] == ["alpha"]
    rest = iot_data.list_named_shadows_for_thing(thingName=thing, nextToken=first["nextToken"])
    assert rest["results"] == ["gamma"]
    assert "nextToken" not in rest
    assert isinstance(rest["timestamp"], int)
    nobody = iot_data.list_named_shadows_for_thing(thingName=unique("ghost-"))
    assert nobody["results"] == []


def test_a_missing_shadow_is_resource_not_found(iot_data, thing):
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException) as caught:
        iot_data.get_thing_shadow(thingName=thing, shadowName="nope")
    assert caught.value.response["Error"]["Message"] == "No shadow exists with name: 'nope'"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.delete_thing_shadow(thingName=thing)


def test_a_stale_version_is_a_conflict(iot_data, thing):
    update(iot_data, thing, {"state": {"reported": {"on": True}}})
    with pytest.raises(iot_data.exceptions.ConflictException, match="Version conflict"):
        update(iot_data, thing, {"state": {"reported": {"on": False}}, "version": 5})
    assert update(iot_data, thing, {"state": {}, "version": 1})["version"] == 2


def test_a_merged_document_over_8_kib_is_too_large(iot_data, thing):
    update(iot_data, thing, {"state": {"reported": {"a": "x" * 5000}}})
    with pytest.raises(iot_data.exceptions.RequestEntityTooLargeException):
        update(iot_data, thing, {"state": {"desired": {"b": "y" * 5000}}})


def test_a_body_over_128_kib_is_refused(iot_data, thing):
    with pytest.raises(iot_data.exceptions.RequestEntityTooLargeException):
        iot_data.update_thing_shadow(thingName=thing, payload=b"{" + b" " * 200_000 + b"}")
    # The connection pool recovers: the next call works.
    assert update(iot_data, thing, {"state": {}})["version"] == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{oops", "Invalid JSON"),
        (b'{"state": {"delta": {}}}', "State contains an invalid node"),
        (b'{"state": {"reported": {"a": [null]}}}', "Invalid JSON"),
        (b'{"state": {"reported": {"a": "\\ud800"}}}', "Invalid JSON"),  # not Unicode text
        (b'{"state": {}, "clientToken": "\\udfff"}', "Invalid JSON"),
    ],
)
def test_bad_requests_are_invalid_request(iot_data, thing, payload, message):
    with pytest.raises(iot_data.exceptions.InvalidRequestException, match=message):
        iot_data.update_thing_shadow(thingName=thing, payload=payload)


def test_a_bad_thing_name_is_invalid_request(iot_data):
    with pytest.raises(iot_data.exceptions.InvalidRequestException, match="thing name"):
        iot_data.get_thing_shadow(thingName="no spaces allowed")


# ---------------------------------------------------------------------------- MQTT side effects


def test_an_http_update_publishes_the_mqtt_notifications(iot_data, service, thing):
    topics = ShadowTopics(thing)
    accepted = collect(service, topics.update_accepted)
    delta = collect(service, topics.update_delta)
    documents = collect(service, topics.update_documents)
    rejected = collect(service, topics.update_rejected)
    request = {"state": {"desired": {"on": True}}, "clientToken": "h1"}
    response = update(iot_data, thing, request)
    assert accepted.get(timeout=WAIT).json() == response
    assert delta.get(timeout=WAIT).json()["state"] == {"on": True}
    assert documents.get(timeout=WAIT).json()["current"]["version"] == 1
    with pytest.raises(iot_data.exceptions.ConflictException):
        update(iot_data, thing, {"state": {}, "version": 9})
    # Rejections are for MQTT requesters only; a later accepted proves nothing was queued.
    update(iot_data, thing, {"state": {"reported": {"on": True}}})
    assert accepted.get(timeout=WAIT).json()["version"] == 2
    assert rejected.empty()


def test_an_http_delete_publishes_delete_accepted(iot_data, service, thing):
    deleted = collect(service, ShadowTopics(thing, "cfg").delete_accepted)
    update(iot_data, thing, {"state": {}}, shadowName="cfg")
    iot_data.delete_thing_shadow(thingName=thing, shadowName="cfg")
    assert deleted.get(timeout=WAIT).json()["version"] == 1


def test_publish_reaches_subscribers(iot_data, service):
    topic = unique("swan/test/")
    received = collect(service, topic)
    iot_data.publish(topic=topic, qos=1, payload=b'{"hello": "world"}')
    message = received.get(timeout=WAIT)
    assert (message.topic, message.payload) == (topic, b'{"hello": "world"}')


def test_a_shadow_request_published_over_http_goes_through_the_shadow_service(
    iot_data, service, thing
):
    topics = ShadowTopics(thing)
    accepted = collect(service, topics.update_accepted)
    rejected = collect(service, topics.update_rejected)
    iot_data.publish(topic=topics.update, qos=1, payload=b'{"state": {}, "clientToken": "p1"}')
    assert accepted.get(timeout=WAIT).json()["clientToken"] == "p1"
    iot_data.publish(topic=topics.update, qos=1, payload=b'{"state": 5, "clientToken": "p2"}')
    answer = rejected.get(timeout=WAIT).json()
    assert (answer["code"], answer["clientToken"]) == (400, "p2")
    assert answer["message"] == "State node must be an object"


def test_publish_refuses_wildcards_as_invalid_request(iot_data):
    with pytest.raises(iot_data.exceptions.InvalidRequestException, match="wildcard"):
        iot_data.publish(topic="swan/+/x", payload=b"{}")


def test_publish_refuses_response_topics_as_forbidden(iot_data, thing):
    with pytest.raises(iot_data.exceptions.ForbiddenException):
        iot_data.publish(topic=ShadowTopics(thing).get_accepted, payload=b"{}")


# ---------------------------------------------------------------------------- plain HTTP


def test_an_unknown_route_is_a_clear_404(dataplane):
    status, headers, body = raw(dataplane, "GET", "/nothing/here")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(body) == {"message": "No iot-data operation at GET /nothing/here"}


def test_a_wrong_method_is_405(dataplane):
    status, headers, _ = raw(dataplane, "PUT", "/things/lamp/shadow", body=b"{}")
    assert status == 405
    assert headers["x-amzn-ErrorType"] == "MethodNotAllowedException"
    assert headers["Allow"] == "GET, POST, DELETE"


def test_page_size_is_checked_by_the_server(dataplane):
    status, headers, _ = raw(
        dataplane, "GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=0"
    )
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")


def test_an_oversized_body_announced_with_expect_100_is_refused_before_it_is_sent(dataplane):
    parts = urlsplit(dataplane.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
    try:
        connection.putrequest("POST", "/things/lamp/shadow")
        connection.putheader("Content-Length", str(10_000_000))
        connection.putheader("Expect", "100-continue")
        connection.endheaders()
        response = connection.getresponse()  # no body was sent
        assert response.status == 413
        assert response.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    finally:
        connection.close()


def test_an_oversized_body_is_refused_from_its_content_length_before_it_arrives(dataplane):
    parts = urlsplit(dataplane.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
    try:
        connection.putrequest("POST", "/things/lamp/shadow")
        connection.putheader("Content-Length", str(16 * 1024 * 1024))
        connection.endheaders(b'{"state": ')  # and the rest never comes
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
        assert json.loads(response.read()) == {
            "message": "The payload exceeds the maximum size allowed"
        }
    finally:
        connection.close()


def test_a_body_of_exactly_128_kib_is_read(iot_data, thing):
    padding = b" " * (128 * 1024 - len(b'{"state": {}}'))
    answer = iot_data.update_thing_shadow(thingName=thing, payload=b'{"state": {}}' + padding)
    assert document(answer)["version"] == 1


def test_a_chunked_body_is_refused(dataplane):
    status, _, body = raw(
        dataplane,
        "POST",
        "/things/lamp/shadow",
        body=iter([b'{"state": {}}']),
        headers={"Transfer-Encoding": "chunked"},
    )
    assert status == 400
    assert b"Content-Length" in body


def test_requests_are_not_logged_to_stderr(iot_data, thing, capfd):
    update(iot_data, thing, {"state": {}})
    assert capfd.readouterr().err == ""


def test_a_port_in_use_is_a_clear_error(dataplane, shadows, service):
    port = int(urlsplit(dataplane.url).port)
    with pytest.raises(DataPlaneError, match=f"cannot listen on 127.0.0.1:{port}"):
        DataPlane(shadows, service, port=port).start()


def test_calls_are_not_held_back_by_nagle(iot_data, thing):
    # With Nagle's algorithm on, each answer waited ~40 ms for a delayed ACK: 50 calls ~2 s.
    # Five things, ten calls each: within AWS's 20 requests a second per thing.
    things = [f"{thing}-{n}" for n in range(5)]
    for name in things:
        update(iot_data, name, {"state": {}})
    started = time.perf_counter()
    for _ in range(10):
        for name in things:
            iot_data.get_thing_shadow(thingName=name)["payload"].read()
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------------------- 20 a second


@pytest.fixture
def impatient(dataplane):
    """An iot-data client that makes one attempt per call (botocore retries 429 by default)."""
    client = local_boto3(
        "iot-data", dataplane.url, config=Config(retries={"total_max_attempts": 1}, read_timeout=10)
    )
    yield client
    client.close()


def test_a_thing_over_twenty_requests_a_second_is_throttled_others_are_not(impatient, thing):
    flooded, other = f"{thing}-flooded", f"{thing}-other"
    update(impatient, other, {"state": {"reported": {"on": True}}})
    outcomes = []
    errors = []
    started = time.monotonic()
    for _ in range(60):
        try:
            impatient.get_thing_shadow(thingName=flooded)
        except impatient.exceptions.ResourceNotFoundException:
            outcomes.append(404)
        except impatient.exceptions.ThrottlingException as error:
            outcomes.append(429)
            errors.append(error.response)
    elapsed = time.monotonic() - started
    # Meanwhile another thing is served as usual.
    assert document(impatient.get_thing_shadow(thingName=other))["version"] == 1
    assert outcomes[:20] == [404] * 20  # an idle thing's burst
    assert 429 in outcomes
    assert outcomes.count(404) <= 20 + 20 * elapsed + 1
    assert {error["Error"]["Message"] for error in errors} == {"Rate exceeded"}
    assert {error["ResponseMetadata"]["HTTPStatusCode"] for error in errors} == {429}
