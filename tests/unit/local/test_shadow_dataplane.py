"""The iot-data routes, without sockets: requests in, AWS-shaped responses out."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from swan.adapters.clock import FakeClock
from swan.adapters.mqtt import MemoryBroker, MemoryTransport
from swan.core.topics import ShadowTopics
from swan.local.core.shadow import ShadowKey, StoredShadow
from swan.local.dataplane import ApiRequest, IotDataApi
from swan.local.shadow_service import ShadowService
from swan.local.shadow_store import SqliteShadowStore

T = 1_764_000_000


@pytest.fixture
def broker():
    return MemoryBroker()


@pytest.fixture
def service(tmp_path, broker):
    with SqliteShadowStore(tmp_path / "shadows.db") as store:
        running = ShadowService(store, broker.connect("shadow-service"), FakeClock(current=T))
        running.start()
        yield running
        running.stop()


@pytest.fixture
def api(service, broker):
    return IotDataApi(service, broker.connect("dataplane"))


def call(api, method, target, body=b""):
    return api.handle(ApiRequest(method, target, body))


def body_of(response):
    return json.loads(response.body)


def assert_error(response, status, error_type, message=None):
    assert (response.status, response.headers["x-amzn-ErrorType"]) == (status, error_type)
    assert response.headers["Content-Type"] == "application/json"
    if message is not None:
        assert body_of(response) == {"message": message}


UPDATE = json.dumps({"state": {"desired": {"on": True}}, "clientToken": "c1"}).encode()


# ---------------------------------------------------------------------------- shadows


def test_update_get_delete_a_classic_shadow(api):
    updated = call(api, "POST", "/things/lamp/shadow", UPDATE)
    assert updated.status == 200
    assert body_of(updated)["version"] == 1
    assert body_of(updated)["clientToken"] == "c1"
    got = body_of(call(api, "GET", "/things/lamp/shadow"))
    assert got["state"] == {"desired": {"on": True}, "delta": {"on": True}}
    assert got["timestamp"] == T
    assert body_of(call(api, "DELETE", "/things/lamp/shadow")) == {"version": 1, "timestamp": T}
    assert_error(
        call(api, "GET", "/things/lamp/shadow"),
        404,
        "ResourceNotFoundException",
        "No shadow exists with name: 'lamp'",
    )


def test_named_shadows_are_addressed_by_the_name_parameter(api):
    call(api, "POST", "/things/lamp/shadow?name=config", UPDATE)
    assert_error(call(api, "GET", "/things/lamp/shadow"), 404, "ResourceNotFoundException")
    assert call(api, "GET", "/things/lamp/shadow?name=config").status == 200


def test_an_http_update_publishes_notifications_but_no_rejections(api, broker):
    call(api, "POST", "/things/lamp/shadow", UPDATE)
    call(api, "POST", "/things/lamp/shadow", b'{"state": {}, "version": 9}')
    lamp = ShadowTopics("lamp")
    assert [message.topic for message in broker.published] == [
        lamp.update_accepted,
        lamp.update_delta,
        lamp.update_documents,
    ]


@pytest.mark.parametrize(
    ("body", "status", "error_type"),
    [
        (b'{"state": {}, "version": 5}', 409, "ConflictException"),
        (b"nope", 400, "InvalidRequestException"),
        (b"\xff", 415, "UnsupportedDocumentEncodingException"),
        (json.dumps({"state": {"reported": {"a": "x" * 9000}}}).encode(), 413, None),
    ],
)
def test_update_errors_carry_the_botocore_error_type(api, body, status, error_type):
    response = call(api, "POST", "/things/lamp/shadow", body)
    assert_error(response, status, error_type or "RequestEntityTooLargeException")


@pytest.mark.parametrize(
    "target",
    ["/things/bad.name/shadow", "/things/lamp/shadow?name=", "/things/lamp/shadow?name=a%20b"],
)
def test_bad_names_are_400(api, target):
    assert_error(call(api, "GET", target), 400, "InvalidRequestException")


def test_percent_encoded_names_are_decoded(api):
    call(api, "POST", "/things/a%3Ab/shadow?name=%24cfg", UPDATE)
    assert call(api, "GET", "/things/a:b/shadow?name=$cfg").status == 200


def test_a_path_that_is_not_utf8_is_400(api):
    assert_error(call(api, "GET", "/things/%ff/shadow"), 400, "InvalidRequestException")


# ---------------------------------------------------------------------------- listing


def test_named_shadows_are_listed_with_paging(api):
    for name in ("c", "a", "b"):
        call(api, "POST", f"/things/lamp/shadow?name={name}", b'{"state": {}}')
    first = body_of(call(api, "GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=2"))
    assert first["results"] == ["a", "b"]
    target = f"/api/things/shadow/ListNamedShadowsForThing/lamp?nextToken={first['nextToken']}"
    assert body_of(call(api, "GET", target)) == {"results": ["c"], "timestamp": T}


def test_an_unknown_thing_lists_nothing(api):
    response = call(api, "GET", "/api/things/shadow/ListNamedShadowsForThing/ghost")
    assert body_of(response) == {"results": [], "timestamp": T}


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=101", "pageSize=ten", "nextToken=%21"])
def test_bad_paging_is_400(api, query):
    response = call(api, "GET", f"/api/things/shadow/ListNamedShadowsForThing/lamp?{query}")
    assert_error(response, 400, "InvalidRequestException")


# ---------------------------------------------------------------------------- publish


def test_publish_hands_the_body_to_the_broker(api, broker):
    seen = []
    broker.connect("listener").subscribe("swan/push/+", seen.append)
    response = call(api, "POST", f"/topics/{quote('swan/push/web', safe='')}?qos=1", b"\x00raw")
    assert (response.status, response.body) == (200, b"")
    assert [(message.topic, message.payload) for message in seen] == [("swan/push/web", b"\x00raw")]


def test_an_unencoded_topic_path_works_too(api, broker):
    assert call(api, "POST", "/topics/swan/push/web", b"{}").status == 200
    assert broker.published[-1].topic == "swan/push/web"


def test_a_shadow_request_published_over_http_is_answered_on_mqtt(api, broker):
    lamp = ShadowTopics("lamp")
    response = call(api, "POST", f"/topics/{quote(lamp.update, safe='')}?qos=1", UPDATE)
    assert response.status == 200
    assert broker.on(lamp.update_accepted)[0]["clientToken"] == "c1"
    call(api, "POST", f"/topics/{quote(lamp.update, safe='')}", b"{bad")
    assert broker.on(lamp.update_rejected)[0]["message"] == "Invalid JSON"


def test_a_shadow_request_with_bad_names_is_answered_by_the_shadow_service(api, broker):
    topic = "$aws/things/bad.name/shadow/get"
    assert call(api, "POST", f"/topics/{quote(topic, safe='')}").status == 200
    assert broker.on(f"{topic}/rejected")[0]["code"] == 400


@pytest.mark.parametrize(
    ("topic", "query", "status", "error_type"),
    [
        ("swan/+/web", "", 400, "InvalidRequestException"),
        ("swan/#", "", 400, "InvalidRequestException"),
        ("a/b/c/d/e/f/g/h/i", "", 400, "InvalidRequestException"),
        ("x" * 257, "", 400, "InvalidRequestException"),
        ("swan/push/web", "qos=2", 400, "InvalidRequestException"),
        ("swan/push/web", "retain=true", 400, "InvalidRequestException"),
        ("swan/push/web", "retain=maybe", 400, "InvalidRequestException"),
        ("$aws/things/lamp/shadow/update", "retain=true", 400, "InvalidRequestException"),
        ("$aws/things/lamp/shadow/update/accepted", "", 403, "ForbiddenException"),
        ("$aws/things/lamp/shadow/name/cfg/get/rejected", "", 403, "ForbiddenException"),
    ],
)
def test_publish_refusals(api, broker, topic, query, status, error_type):
    response = call(api, "POST", f"/topics/{quote(topic, safe='')}?{query}", b"{}")
    assert_error(response, status, error_type)
    assert broker.published == []


def test_publish_needs_a_topic(api):
    assert_error(call(api, "POST", "/topics/", b"{}"), 400, "InvalidRequestException")


def test_retaining_on_reserved_topics_says_why(api):
    topic = quote("$aws/things/lamp/shadow/update", safe="")
    response = call(api, "POST", f"/topics/{topic}?retain=true", b"{}")
    assert body_of(response)["message"] == "Messages on reserved $aws topics cannot be retained"


def test_publish_refuses_a_body_over_128_kib(api, broker):
    response = call(api, "POST", "/topics/swan%2Fbig", b"x" * (128 * 1024 + 1))
    assert_error(response, 413, "RequestEntityTooLargeException")
    assert broker.published == []


class RefusingTransport(MemoryTransport):
    def publish(self, *_args, **_kwargs):
        raise ConnectionError("broker gone")


def test_a_publish_the_broker_does_not_take_is_503(service):
    api = IotDataApi(service, RefusingTransport(MemoryBroker(), "dataplane"))
    response = call(api, "POST", "/topics/swan%2Fpush%2Fweb", b"{}")
    assert_error(response, 503, "ServiceUnavailableException")


# ---------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    "target", ["/", "/things/lamp", "/things/lamp/shadow/extra", "/topics", "/retainedMessage"]
)
def test_unknown_routes_are_404_and_say_so(api, target):
    response = call(api, "GET", target)
    assert_error(response, 404, "ResourceNotFoundException")
    assert "No iot-data operation at GET" in body_of(response)["message"]


@pytest.mark.parametrize(
    ("method", "target", "allowed"),
    [
        ("PUT", "/things/lamp/shadow", "GET, POST, DELETE"),
        ("POST", "/api/things/shadow/ListNamedShadowsForThing/lamp", "GET"),
        ("GET", "/topics/swan%2Fpush%2Fweb", "POST"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api, method, target, allowed):
    response = call(api, method, target)
    assert_error(response, 405, "MethodNotAllowedException")
    assert response.headers["Allow"] == allowed


class BrokenList:
    """A store whose listing fails, as a damaged database would."""

    def list_named(self, thing):
        raise OSError(f"cannot read {thing}")


def test_an_internal_failure_is_500(broker):
    service = ShadowService(BrokenList(), broker.connect("svc"), FakeClock(current=T))
    api = IotDataApi(service, broker.connect("dataplane"))
    response = call(api, "GET", "/api/things/shadow/ListNamedShadowsForThing/lamp")
    assert_error(response, 500, "InternalFailureException", "Internal service failure")


class Exploding:
    def get(self, *_args, **_kwargs):
        raise AssertionError("a bug")


def test_a_bug_in_a_route_is_500_not_a_crash(broker, caplog):
    api = IotDataApi(Exploding(), broker.connect("dataplane"))
    response = call(api, "GET", "/things/lamp/shadow")
    assert_error(response, 500, "InternalFailureException")
    assert "a bug" in caplog.text


# ---------------------------------------------------------------------------- AWS's limits


def test_a_thing_over_twenty_requests_a_second_is_throttled_and_others_are_not(api):
    for _ in range(20):
        assert call(api, "GET", "/things/lamp/shadow").status == 404
    throttled = call(api, "GET", "/things/lamp/shadow")
    assert_error(throttled, 429, "ThrottlingException", "Rate exceeded")
    assert_error(
        call(api, "POST", "/things/lamp/shadow?name=config", UPDATE),
        429,
        "ThrottlingException",
        "Rate exceeded",
    )
    assert call(api, "POST", "/things/desk/shadow", UPDATE).status == 200


def test_a_lone_surrogate_in_an_update_is_invalid_json(api):
    body = b'{"state": {"reported": {"name": "\\ud800"}}, "clientToken": "c"}'
    assert_error(
        call(api, "POST", "/things/lamp/shadow", body),
        400,
        "InvalidRequestException",
        "Invalid JSON",
    )


def test_a_shadow_that_is_not_unicode_text_is_answered_500_not_sent(tmp_path, broker):
    # Only a database from before lone surrogates were refused can hold one.
    legacy = StoredShadow(reported={"a": "\ud800"}, reported_metadata={"a": {"timestamp": 1}})
    with SqliteShadowStore(tmp_path / "legacy.db") as store:
        store.put(ShadowKey("lamp"), legacy)
        service = ShadowService(store, broker.connect("shadow-service"), FakeClock(current=T))
        api = IotDataApi(service, broker.connect("dataplane"))
        assert_error(
            call(api, "GET", "/things/lamp/shadow"),
            500,
            "InternalFailureException",
            "Internal service failure",
        )
