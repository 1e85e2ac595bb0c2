"""A small JSON-over-HTTP server for the local stand-ins of AWS REST APIs.

boto3 talks to them unchanged (an `endpoint_url`); errors carry `x-amzn-ErrorType` so
botocore raises the modeled exceptions. Loopback only; SigV4 is accepted, not verified.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]  # from the path pattern, URL-decoded
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            document = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(400, "ValidationException", f"the body is not JSON: {error!s}") from None
        if not isinstance(document, dict):
            raise ApiError(400, "ValidationException", "the body must be a JSON object")
        return document


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: dict[str, Any] | bytes = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(SwanError):
    """An AWS-shaped error: HTTP status, botocore error type, message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(f"{status} {error_type}: {message}")


Route = tuple[str, "re.Pattern[str]", "Callable[[Request], Response]"]


class JsonApi:
    """Routes (method, path pattern with named groups) to handlers, served on a thread."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self._routes: list[Route] = []
        self._server = _Server((host, port), _Handler)
        self._server.api = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{self.name}-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: JsonApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms.
    disable_nagle_algorithm = True
    methods: ClassVar = ("GET", "POST", "PUT", "DELETE", "PATCH")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:  # iot SetDefaultPolicyVersion
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s: %s", self.server.api.name, format % args)

    def _handle(self) -> None:
        try:
            response = self.server.api.dispatch(self._request())
        except ApiError as error:
            response = Response(
                error.status,
                {"message": error.message},
                {"x-amzn-ErrorType": error.error_type},
            )
        except Exception:
            log.exception("%s: %s %s failed", self.server.api.name, self.command, self.path)
            response = Response(
                500,
                {"message": "Internal service failure"},
                {"x-amzn-ErrorType": "InternalServerException"},
            )
        self._send(response)

    def _request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "RequestEntityTooLargeException", "the request is too large")
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        headers = {key.lower(): value for key, value in self.headers.items()}
        return Request(self.command, parts.path, {}, query, headers, body)

    def _send(self, response: Response) -> None:
        body = response.body
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
