"""The stand-in's one HTTP server, as each of its APIs (iot-data, iot, scheduler) serves it:
malformed, oversized, deep, slow, idle and surplus clients, on raw sockets."""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass

import pytest

from swan.adapters.clock import SystemClock
from swan.local.controlplane import ControlPlane
from swan.local.dataplane import DataPlane
from swan.local.httpapi import ApiError, HttpServer, ServerLimits
from swan.local.registry import Registry
from swan.local.scheduler import LocalScheduler
from swan.local.shadow_service import ShadowService
from swan.local.shadow_store import SqliteShadowStore

WAIT = 10.0
LIMITS = ServerLimits(request_timeout=1.0, idle_timeout=1.0, max_connections=3)


@dataclass(frozen=True)
class Api:
    """One API as the tests see it: its server, a request that takes a body, its cap and
    the error types its botocore model names."""

    name: str
    server: HttpServer
    target: str
    cap: int
    bad_request: str
    too_large: str
    busy: tuple[int, str]


@pytest.fixture(params=["iot-data", "iot", "scheduler"])
def api(request, tmp_path):
    if request.param == "iot-data":
        service = request.getfixturevalue("service")
        with SqliteShadowStore(tmp_path / "shadows.db") as store:
            shadows = ShadowService(store, service, SystemClock())
            shadows.start()
            plane = DataPlane(shadows, service, limits=LIMITS)
            plane.start()
            assert plane.server is not None
            yield Api(
                "iot-data",
                plane.server,
                "/things/lamp/shadow",
                128 * 1024,
                "InvalidRequestException",
                "RequestEntityTooLargeException",
                (503, "ServiceUnavailableException"),
            )
            plane.stop()
            shadows.stop()
    elif request.param == "iot":
        with Registry(tmp_path / "registry.db", SystemClock()) as registry:
            control = ControlPlane(registry, SystemClock(), limits=LIMITS)
            control.start()
            yield Api(
                "iot",
                control.api.server,
                "/things/lamp",
                1024 * 1024,
                "InvalidRequestException",
                "InvalidRequestException",
                (503, "ServiceUnavailableException"),
            )
            control.stop()
    else:
        scheduler = LocalScheduler(
            tmp_path / "scheduler.db", SystemClock(), lambda _arn, _event: None, limits=LIMITS
        )
        scheduler.start()
        yield Api(
            "scheduler",
            scheduler.api.server,
            "/schedules/expiry",
            1024 * 1024,
            "ValidationException",
            "ValidationException",
            (429, "ThrottlingException"),
        )
        scheduler.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")

    @property
    def message(self) -> str:
        return str(json.loads(self.body)["message"])


def connect(api: Api) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", api.server.port), timeout=WAIT)
    connection.settimeout(WAIT)
    return connection


def read_answer(connection: socket.socket) -> Answer:
    """One HTTP answer off the connection (its Content-Length says where it ends)."""
    stream = connection.makefile("rb")
    status_line = stream.readline()
    assert status_line, "the server closed the connection without an answer"
    headers: dict[str, str] = {}
    for _ in range(100):
        line = stream.readline().decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return Answer(int(status_line.split()[1]), headers, body)


def exchange(api: Api, head: str, body: bytes = b"") -> Answer:
    with connect(api) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\n" + body)
        return read_answer(connection)


def post(api: Api, *headers: str, body: bytes = b"") -> Answer:
    lines = [f"POST {api.target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return exchange(api, "".join(f"{line}\r\n" for line in lines), body)


def closed_by_server(connection: socket.socket) -> bool:
    """Whether the server closes the connection before WAIT (it sends nothing more)."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ] == []


@pytest.mark.parametrize("declared", ["abc", "-1", "12abc", "+5", "1e3", "\u00b2"])
def test_a_content_length_that_is_not_a_decimal_count_is_400(api, declared, caplog):
    answer = post(api, f"Content-Length: {declared}")
    assert (answer.status, answer.error_type) == (400, api.bad_request)
    assert answer.message == "Invalid Content-Length"
    assert answer.headers["connection"] == "close"
    assert_no_traceback(caplog)


def test_two_different_content_lengths_are_400(api):
    answer = post(api, "Content-Length: 2", "Content-Length: 3", body=b"{}")
    assert (answer.status, answer.error_type) == (400, api.bad_request)


def test_a_body_method_without_a_content_length_is_411(api):
    answer = post(api)
    assert (answer.status, answer.error_type) == (411, api.bad_request)
    assert "Content-Length" in answer.message


def test_a_chunked_body_is_refused(api):
    answer = post(api, "Transfer-Encoding: chunked", body=b"2\r\n{}\r\n0\r\n\r\n")
    assert (answer.status, answer.error_type) == (400, api.bad_request)


def test_a_body_over_the_cap_is_413_from_its_content_length_before_it_arrives(api):
    answer = post(api, f"Content-Length: {api.cap + 1}", body=b'{"a": ')
    assert (answer.status, answer.error_type) == (413, api.too_large)


def test_json_nested_ten_thousand_deep_is_a_client_error_without_a_traceback(api, caplog):
    body = b'{"state": {"desired": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}}"
    answer = post(api, f"Content-Length: {len(body)}", body=body)
    assert answer.status == 400
    assert answer.error_type == api.bad_request
    assert_no_traceback(caplog)


def test_a_garbled_request_line_is_400_in_the_api_shape(api, caplog):
    answer = exchange(api, "GARBAGE\r\n")
    assert (answer.status, answer.error_type) == (400, api.bad_request)
    assert "GARBAGE" in answer.message
    assert_no_traceback(caplog)


def test_a_client_trickling_its_request_is_closed_after_the_request_timeout(api, caplog):
    with connect(api) as connection:
        started = time.monotonic()
        connection.sendall(f"POST {api.target} HTTP/1.1\r\n".encode())
        closed = False
        for _ in range(int(WAIT / 0.2)):  # a header byte every 0.2 s, never the end
            try:
                connection.sendall(b"X")
            except OSError:
                closed = True
                break
            connection.settimeout(0.2)
            try:
                if connection.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
    elapsed = time.monotonic() - started
    assert closed
    assert LIMITS.request_timeout * 0.9 <= elapsed < LIMITS.request_timeout + 2
    assert_no_traceback(caplog)


def test_a_body_that_never_arrives_is_dropped_after_the_request_timeout(api):
    with connect(api) as connection:
        connection.sendall(f"POST {api.target} HTTP/1.1\r\nContent-Length: 10\r\n\r\n{{".encode())
        started = time.monotonic()
        assert closed_by_server(connection)
    assert time.monotonic() - started < LIMITS.request_timeout + 2


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(api):
    with connect(api) as connection:
        connection.sendall(f"GET {api.target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = read_answer(connection)
        assert answer.headers.get("connection") != "close"
        started = time.monotonic()
        assert closed_by_server(connection)
    assert LIMITS.idle_timeout * 0.9 <= time.monotonic() - started < LIMITS.idle_timeout + 2


def test_a_connection_past_the_cap_is_refused_and_a_freed_slot_serves_again(api):
    held = []
    try:
        for _ in range(LIMITS.max_connections):
            connection = connect(api)
            held.append(connection)
            connection.sendall(f"GET {api.target} HTTP/1.1\r\n\r\n".encode())
            read_answer(connection)  # accepted and served: the slot is taken
        with connect(api) as surplus:
            surplus.sendall(f"GET {api.target} HTTP/1.1\r\n\r\n".encode())
            answer = read_answer(surplus)
        assert (answer.status, answer.error_type) == api.busy
        held.pop().close()
        for _ in range(int(WAIT / 0.05)):  # the server notices the close at its next read
            answer = exchange(api, f"GET {api.target} HTTP/1.1\r\nConnection: close\r\n")
            if answer.status != api.busy[0]:
                break
            time.sleep(0.05)
        assert answer.status != api.busy[0]
    finally:
        for connection in held:
            connection.close()


def test_a_request_check_refuses_before_the_api_sees_the_request(api):
    seen = []

    def refuse(request):
        seen.append((request.method, request.target, request.headers.get("x-probe")))
        raise ApiError(403, "ForbiddenException", "no signature")

    api.server.check = refuse
    body = b'{"state": {"desired": {"on": true}}}'
    answer = post(api, "X-Probe: yes", f"Content-Length: {len(body)}", body=body)
    assert (answer.status, answer.error_type, answer.message) == (
        403,
        "ForbiddenException",
        "no signature",
    )
    assert seen == [("POST", api.target, "yes")]
    api.server.check = None
    got = exchange(api, f"GET {api.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
    assert got.status == 404  # the refused request created nothing


@pytest.mark.parametrize(
    "headers",
    [
        ["Host: swan.evil.example:18443"],  # a page whose name was rebound to 127.0.0.1
        ["Host: 10.0.0.7"],
        [],  # HTTP/1.1 without a Host
        ["Host: 127.0.0.1", "Origin: https://evil.example"],  # a cross-site text/plain POST
        ["Host: localhost", "Origin: null"],
        ["Host: 127.0.0.1", "Sec-Fetch-Site: cross-site"],
    ],
)
def test_a_foreign_host_or_a_web_page_is_refused_before_the_api_sees_it(api, headers, caplog):
    seen = []
    api.server.check = seen.append
    body = b'{"state": {"desired": {"on": true}}}'
    lines = [f"POST {api.target} HTTP/1.1", *headers, "Content-Type: text/plain"]
    lines.append(f"Content-Length: {len(body)}")
    answer = exchange(api, "".join(f"{line}\r\n" for line in lines), body)
    assert answer.status == 403
    assert answer.error_type == (
        "ForbiddenException" if api.name == "iot-data" else "AccessDeniedException"
    )
    assert seen == []
    assert_no_traceback(caplog)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:18443", "[::1]:80", "127.0.0.2"])
def test_loopback_names_without_a_browser_are_served(api, host):
    api.server.check = None
    answer = exchange(api, f"GET {api.target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n")
    assert answer.status == 404  # the API answered: nothing there yet
