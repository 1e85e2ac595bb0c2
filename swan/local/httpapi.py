"""The one HTTP server of the stand-in's AWS APIs (iot-data, iot, scheduler), and `JsonApi`,
a router for the REST APIs built on it.

boto3 talks to them unchanged (an `endpoint_url`). Every error is AWS's rest-json shape: the
HTTP status, a JSON body `{"message": ...}` and the header `x-amzn-ErrorType`, from which
botocore raises its modeled exceptions; each API names its own types (`ErrorTypes`).

The server refuses what a client gets wrong before any API sees it, and never lets one client
hold it up (`ServerLimits`):
- a body must come with one decimal `Content-Length` (POST, PUT and PATCH always; chunked
  bodies are refused), at most the API's cap: else 400, 411 or 413, the body drained and the
  connection closed;
- a request (line, headers, body) must arrive within `request_timeout`, and a kept-alive
  connection may sit idle for `idle_timeout`: then it is closed, one debug line;
- at most `max_connections` at once; one more is answered 503 (or the API's "slow down")
  and closed;
- a client's mistake is at most one log line; only the API's own failure logs a traceback.

Before any API sees a request, the server refuses what no AWS endpoint serves here (403,
the API's `forbidden` type): a `Host` that is not a loopback name (a DNS-rebinding page
reaching 127.0.0.1 under its own name), and any request a browser sends for another site
(an `Origin` header, or `Sec-Fetch-Site` other than `none`): AWS gives the iot, iot-data
and scheduler APIs no CORS, and a cross-site `text/plain` POST needs no preflight, so
without this any web page the user opens could write the button shadow. boto3, the AWS CLI
and curl send neither header. An API that serves browsers (Cognito Identity, with CORS)
names the page origins it serves as `allowed_origins`: a request from one of those passes,
whatever its `Sec-Fetch-Site`; every other origin stays refused.

A per-request check (SigV4: issue 13) plugs in as `check`: it is given the parsed
`HttpRequest` after that, before the API, and refuses it by raising `ApiError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from swan.core.errors import SwanError
from swan.core.jsondoc import JsonDecodeFailedError, decode_json
from swan.local.core.sigv4 import is_loopback_host

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

log = logging.getLogger(__name__)

# AWS documents no request size for the iot control plane or EventBridge Scheduler; their
# largest bodies are a few PEM certificates or an 8,192-character target input. 1 MiB is a
# cap far above both (iot-data has AWS's own: 128 KiB, swan.local.core.shadow.MAX_MESSAGE_BYTES).
MAX_BODY_BYTES: Final = 1024 * 1024
# AWS documents no nesting limit for these JSON bodies; a document this deep is no request
# any of them models, and Python's parser gives up near 1,000 levels anyway.
MAX_JSON_DEPTH: Final = 64
DRAIN_LIMIT: Final = 4 * 1024 * 1024  # read and drop this much of a refused body, no more
DRAIN_TIMEOUT: Final = 2.0
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


class ApiError(SwanError):
    """An AWS-shaped error: HTTP status, botocore error type, message."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{status} {error_type}: {message}")


class MalformedBodyError(SwanError, ValueError):
    """The request body is not the JSON object the operation takes."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"the body {problem}")


@dataclass(frozen=True)
class ErrorTypes:
    """The botocore error types an API answers the server's own refusals with."""

    bad_request: str  # 400: malformed Content-Length, request line or JSON
    too_large: str  # 413: a body over the cap
    internal: str  # 500: the API failed
    busy: str  # too many connections
    busy_status: int = 503
    forbidden: str = "AccessDeniedException"  # 403: a browser's or a foreign Host's request


@dataclass(frozen=True)
class ServerLimits:
    """What one client may take of a server. AWS documents none of these for its HTTP
    front ends; they are sized so that no boto3 call notices them."""

    max_body_bytes: int = MAX_BODY_BYTES
    request_timeout: float = 20.0  # to send a whole request, once its first byte is in
    idle_timeout: float = 60.0  # between requests on a kept-alive connection
    max_connections: int = 64


@dataclass(frozen=True)
class HttpRequest:
    """One request as received: the method, the raw target (path and query), the body and
    the headers (names lower-cased)."""

    method: str
    target: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class Reply(Protocol):
    """What an API answers: the status, the body and the headers (Content-Length is added)."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def error_response(status: int, error_type: str, message: str, **headers: str) -> HttpResponse:
    """AWS's rest-json error: `{"message": ...}` and `x-amzn-ErrorType`."""
    return HttpResponse(
        status,
        json.dumps({"message": message}).encode(),
        {"Content-Type": "application/json", "x-amzn-ErrorType": error_type, **headers},
    )


def foreign_request_problem(
    headers: Mapping[str, str], allowed_origins: Collection[str] = ()
) -> str | None:
    """Why a request (headers lower-cased) is not one this machine's AWS APIs serve: a Host
    that is not loopback, or a browser's request from a web page not in `allowed_origins`
    (exact origins, e.g. `http://127.0.0.1:3000`). None: serve it."""
    host = headers.get("host")
    if host is None or not is_loopback_host(host):
        return f"Host {host!r} is not this machine: only loopback names are served"
    origin = headers.get("origin")
    if origin is not None and origin in allowed_origins:
        return None
    if origin is not None:
        return f"a request from the web page {origin!r}: this API serves no browser (no CORS)"
    if headers.get("sec-fetch-site", "none") != "none":
        return "a browser's request from a web page: this API serves no browser"
    return None


class HttpServer:
    """Serves `respond` on `http://127.0.0.1:<port>` (port 0: a free one), a thread a
    connection, bounded. Binds at construction (OSError if it cannot)."""

    def __init__(  # noqa: PLR0913 - each setting is its own keyword
        self,
        name: str,
        respond: Callable[[HttpRequest], Reply],
        *,
        errors: ErrorTypes,
        limits: ServerLimits | None = None,
        check: Callable[[HttpRequest], None] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.respond = respond
        self.errors = errors
        self.limits = limits or ServerLimits()
        self.check = check
        self.allowed_origins = frozenset(allowed_origins)
        self._server = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        # A short poll interval only makes stop() quick; serving does not poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"{self.name}-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a loop that must have started
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def _refuse_foreign(self, request: HttpRequest) -> None:
        problem = foreign_request_problem(request.headers, self.allowed_origins)
        if problem is not None:
            log.info("%s: refused %s %s: %s", self.name, request.method, request.target, problem)
            raise ApiError(403, self.errors.forbidden, problem)

    def answer(self, request: HttpRequest) -> Reply:
        """The API's answer, or its error: a refusal shaped, a failure logged once."""
        try:
            self._refuse_foreign(request)
            if self.check is not None:
                self.check(request)
            return self.respond(request)
        except ApiError as error:
            return error_response(error.status, error.error_type, error.message, **error.headers)
        except Exception:
            log.exception("%s: %s %s failed", self.name, request.method, request.target)
            return error_response(500, self.errors.internal, "Internal service failure")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: HttpServer
    ) -> None:
        self.owner = owner
        self.slots = threading.BoundedSemaphore(owner.limits.max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self._refuse_busy(request, client_address)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _refuse_busy(self, connection: socket.socket, client_address: Any) -> None:
        errors = self.owner.errors
        reply = error_response(
            errors.busy_status, errors.busy, "Too many connections; try again", Connection="close"
        )
        log.warning("%s: refused %s: too many connections", self.owner.name, client_address)
        try:
            connection.settimeout(1.0)
            connection.sendall(_head(reply, "HTTP/1.1") + reply.body)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            log.debug("%s: a refused client went away", self.owner.name)
        finally:
            self.shutdown_request(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        # The stdlib prints a traceback to stderr; a client that hangs up is routine.
        log.debug("%s: connection from %s failed", self.owner.name, client_address)


def _head(reply: Reply, version: str) -> bytes:
    lines = [f"{version} {reply.status} {_reason(reply.status)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    lines.append(f"Content-Length: {len(reply.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reason(status: int) -> str:
    reason = BaseHTTPRequestHandler.responses.get(status)
    return reason[0] if reason else ""


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side that gives up at `deadline` (time.monotonic), however slowly
    the bytes trickle in: a socket timeout alone restarts with every byte."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self.connection = connection
        self.deadline = float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.connection.settimeout(remaining)
        return self.connection.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body are two writes; with Nagle's algorithm the body then waits for the
    # client's delayed ACK, about 40 ms a call.
    disable_nagle_algorithm = True
    server_version = "swan"
    sys_version = ""
    _LENGTH_MISSING: ClassVar = "Send the body with a Content-Length"

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection)
        self._buffered = io.BufferedReader(self._reader, 65536)
        self.rfile = self._buffered

    @property
    def _owner(self) -> HttpServer:
        return self.server.owner

    def handle_one_request(self) -> None:
        limits = self._owner.limits
        self._reader.deadline = time.monotonic() + limits.idle_timeout
        try:
            started = self._buffered.peek(1)
        except OSError:  # idle too long (TimeoutError) or reset
            started = b""
        if not started:
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + limits.request_timeout
        try:
            super().handle_one_request()
        except OSError as error:
            log.debug("%s: %s: %s", self._owner.name, self.client_address, error or "timed out")
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:  # iot SetDefaultPolicyVersion
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def handle_expect_100(self) -> bool:
        # Refuse a bad or oversized body before the client sends it.
        refusal = self._body_refusal()
        if refusal is not None:
            self.close_connection = True
            self._send(refusal)
            return False
        return super().handle_expect_100()

    def _serve(self) -> None:
        refusal = self._body_refusal()
        if refusal is not None:
            self._refuse_body(refusal)
            return
        length = self._declared_length() or 0
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._send(self._owner.answer(HttpRequest(self.command, self.path, body, headers)))

    def _declared_length(self) -> int | None:
        declared = self.headers.get_all("Content-Length") or []
        values = {value.strip() for value in declared}
        if len(values) != 1:
            return None
        value = values.pop()
        return int(value) if value.isascii() and value.isdigit() else None

    def _body_refusal(self) -> HttpResponse | None:
        errors = self._owner.errors
        if self.headers.get("Transfer-Encoding") is not None:
            return error_response(400, errors.bad_request, self._LENGTH_MISSING)
        declared = self.headers.get_all("Content-Length")
        if not declared:
            if self.command in _BODY_METHODS:
                return error_response(411, errors.bad_request, self._LENGTH_MISSING)
            return None
        length = self._declared_length()
        if length is None:
            return error_response(400, errors.bad_request, "Invalid Content-Length")
        if length > self._owner.limits.max_body_bytes:
            message = "The payload exceeds the maximum size allowed"
            return error_response(413, errors.too_large, message)
        return None

    def _refuse_body(self, refusal: HttpResponse) -> None:
        self.close_connection = True
        self._send(refusal)
        # Let the client finish sending so it reads the answer instead of a reset
        # connection. The body is dropped as it arrives, and only up to a limit.
        remaining = min(self._declared_length() or 0, DRAIN_LIMIT)
        self._reader.deadline = time.monotonic() + DRAIN_TIMEOUT
        try:
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            log.debug("%s: the refused body stopped arriving", self._owner.name)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    def _send(self, reply: Reply) -> None:
        self.connection.settimeout(self._owner.limits.request_timeout)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection and "Connection" not in reply.headers:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        if reply.body:
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib's own refusals (a malformed request line or headers, an unknown method)
        # in the API's shape instead of an HTML page.
        del explain
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a garbled request line: answer with headers
            self.request_version = "HTTP/1.0"
        error_type = self._owner.errors.bad_request
        self._send(error_response(code, error_type, message or _reason(code)))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the stdlib's name)
        log.debug("%s: %s %s", self._owner.name, self.address_string(), format % args)


# ---------------------------------------------------------------- JsonApi: REST routes


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]  # from the path pattern, URL-decoded
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (none: `{}`); MalformedBodyError if it is not one."""
        if not self.body:
            return {}
        try:
            document = decode_json(self.body)
        except JsonDecodeFailedError as error:
            raise MalformedBodyError(f"is not JSON: {error!s}") from None
        except RecursionError:
            raise MalformedBodyError(f"is nested deeper than {MAX_JSON_DEPTH} levels") from None
        if not isinstance(document, dict):
            raise MalformedBodyError("must be a JSON object")
        if _depth_exceeds(document, MAX_JSON_DEPTH):
            raise MalformedBodyError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
        return document


def _depth_exceeds(value: Any, levels: int) -> bool:
    """Whether objects and arrays nest more than `levels` deep (no recursion: no limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > levels:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: dict[str, Any] | bytes = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Route = tuple[str, "re.Pattern[str]", "Callable[[Request], Response]"]

# The error types of the iot and scheduler models (botocore) for the server's refusals.
IOT_ERRORS: Final = ErrorTypes(
    bad_request="InvalidRequestException",
    too_large="InvalidRequestException",  # the iot model has no 413 type
    internal="InternalFailureException",
    busy="ServiceUnavailableException",
)
SCHEDULER_ERRORS: Final = ErrorTypes(
    bad_request="ValidationException",
    too_large="ValidationException",
    internal="InternalServerException",
    busy="ThrottlingException",  # the scheduler model's only "try again later"
    busy_status=429,
)


class JsonApi:
    """Routes (method, path pattern with named groups) to handlers, on an `HttpServer`."""

    def __init__(
        self,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        errors: ErrorTypes,
        limits: ServerLimits | None = None,
    ) -> None:
        self.name = name
        self.errors = errors
        self._routes: list[Route] = []
        self.server = HttpServer(
            name, self._respond, errors=errors, limits=limits, host=host, port=port
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def dispatch(self, request: Request) -> Response:
        allowed = []
        for method, pattern, handler in self._routes:
            found = pattern.fullmatch(request.path)
            if found is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            params = {key: unquote(value) for key, value in found.groupdict().items()}
            return handler(Request(**{**request.__dict__, "params": params}))
        if allowed:
            raise ApiError(405, "MethodNotAllowedException", f"{request.method} is not allowed")
        raise ApiError(404, "ResourceNotFoundException", f"no such route: {request.path}")

    def _respond(self, received: HttpRequest) -> HttpResponse:
        parts = urlsplit(received.target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        request = Request(
            received.method, parts.path, {}, query, dict(received.headers), received.body
        )
        try:
            response = self.dispatch(request)
        except MalformedBodyError as error:
            raise ApiError(400, self.errors.bad_request, str(error)) from None
        body = response.body
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return HttpResponse(
            response.status, payload, {"Content-Type": "application/json", **response.headers}
        )
