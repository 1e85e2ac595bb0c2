"""The AWS IoT data-plane HTTP API (boto3's `iot-data` client), served from the shadow service.

Lambda handlers use boto3 unchanged, pointed at `DataPlane.url` (`endpoint_url=` or
`AWS_ENDPOINT_URL_IOT_DATA_PLANE`). Routes and shapes follow botocore's iot-data model:

    GET|POST|DELETE /things/{thing}/shadow[?name=]       Get/Update/DeleteThingShadow
    GET /api/things/shadow/ListNamedShadowsForThing/{thing}?nextToken=&pageSize=
    POST /topics/{url-encoded topic}?qos=0|1&retain=      Publish

An error is its HTTP status, a JSON body `{"message": ...}` and the header
`x-amzn-ErrorType`, which botocore turns into its modeled exceptions
(`client.exceptions.ConflictException`, ...). SigV4 headers are accepted and not verified.
The HTTP server is the stand-in's one (swan.local.httpapi): malformed, oversized, slow
and idle clients are refused there, before any route.

Publish. AWS hands an HTTP publish to the message broker. A message on a shadow request
topic is therefore a shadow request like any other: the shadow service answers it on the
MQTT `/accepted` or `/rejected` topics. The HTTP call itself succeeds once the broker has
the message. This API does the same: it publishes through the broker, where the shadow
service is subscribed, and so it never takes a shortcut around MQTT. Choices where AWS says
nothing:
- Shadow response topics (`.../update/accepted` and the like) belong to the shadow service.
  Publishing to one is refused with 403. AWS lists them as subscribe-only.
- `retain=true` is refused with 400. AWS forbids it on `$aws/` topics (mqtt.md), and the
  local transport cannot retain messages.
- The message body must be at most 128 KiB. Larger requests get 413 before their body is read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from swan.core.errors import InvalidTopicError, SwanError
from swan.core.topics import (
    AWS_RESERVED_PREFIX,
    parse_shadow_topic,
    validate_aws_limits,
    validate_topic,
)
from swan.local.core.shadow import (
    MAX_MESSAGE_BYTES,
    InvalidShadowKeyError,
    Rejection,
    ShadowKey,
)
from swan.local.core.shadow_errors import FORBIDDEN, INTERNAL_FAILURE, TOO_LARGE
from swan.local.httpapi import ErrorTypes, HttpRequest, HttpServer, ServerLimits
from swan.local.shadow_service import INVALID_PAGE_SIZE, encode_document

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from swan.adapters.mqtt import Transport
    from swan.core.jsondoc import JsonObject
    from swan.local.shadow_service import ShadowService

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT: Final = 5.0
_SHADOW_METHODS: Final = ("GET", "POST", "DELETE")
_T = TypeVar("_T")


class DataPlaneError(SwanError, OSError):
    """The HTTP API cannot listen where it was told to."""

    def __init__(self, host: str, port: int, cause: object) -> None:
        self.host = host
        self.port = port
        super().__init__(f"the iot-data API cannot listen on {host}:{port}: {cause}")


class _RefusedError(Exception):
    """Carries the `Rejection` that answers a request; never leaves this module."""

    def __init__(self, rejection: Rejection, headers: Mapping[str, str] | None = None) -> None:
        self.rejection = rejection
        self.headers = headers
        super().__init__(rejection.message)


# One HTTP request: the method, the raw request target (path and query) and the body.
ApiRequest = HttpRequest

# The iot-data model's error types (botocore) for the HTTP server's own refusals.
IOT_DATA_ERRORS: Final = ErrorTypes(
    bad_request="InvalidRequestException",
    too_large=TOO_LARGE.error_type,
    internal=INTERNAL_FAILURE.error_type,
    busy="ServiceUnavailableException",
    forbidden="ForbiddenException",  # the model's 403
)


@dataclass(frozen=True)
class ApiResponse:
    """What to answer: the status, the body and the headers (Content-Length is added)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def document(cls, document: JsonObject) -> ApiResponse:
        # Strict UTF-8: a document that is not Unicode text raises, and is answered 500.
        return cls(200, encode_document(document), {"Content-Type": "application/json"})

    @classmethod
    def error(cls, rejection: Rejection, headers: Mapping[str, str] | None = None) -> ApiResponse:
        body = json.dumps({"message": rejection.message}).encode()
        return cls(
            rejection.code,
            body,
            {
                "Content-Type": "application/json",
                "x-amzn-ErrorType": rejection.error_type,
                **(headers or {}),
            },
        )


class IotDataApi:
    """The routes, over a `ShadowService` and a `Transport`; no sockets here."""

    def __init__(self, service: ShadowService, transport: Transport) -> None:
        self._service = service
        self._transport = transport

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._route(request)
        except _RefusedError as error:
            return ApiResponse.error(error.rejection, error.headers)
        except Exception:
            log.exception("%s %s failed", request.method, request.target)
            return ApiResponse.error(INTERNAL_FAILURE)

    def _route(self, request: ApiRequest) -> ApiResponse:
        parts = urlsplit(request.target)
        query = parse_qs(parts.query, keep_blank_values=True)
        segments = parts.path.split("/")
        match segments:
            case ["", "things", thing, "shadow"]:
                _allow(request, _SHADOW_METHODS)
                key = _shadow_key(_unquote(thing), _one(query, "name"))
                return self._shadow(request, key)
            case ["", "api", "things", "shadow", "ListNamedShadowsForThing", thing]:
                _allow(request, ("GET",))
                return self._list(_unquote(thing), query)
            case ["", "topics", *_] if len(segments) > 2:  # noqa: PLR2004
                _allow(request, ("POST",))
                topic = _unquote(parts.path.removeprefix("/topics/"))
                return self._publish(topic, query, request.body)
            case _:
                raise _RefusedError(
                    Rejection(404, f"No iot-data operation at {request.method} {parts.path}")
                )

    def _shadow(self, request: ApiRequest, key: ShadowKey) -> ApiResponse:
        if request.method == "GET":
            document = self._service.get(key, via_mqtt=False)
            return ApiResponse.document(_accepted(document))
        if request.method == "POST":
            updated = self._service.update(key, request.body, via_mqtt=False)
            return ApiResponse.document(_accepted(updated).accepted)
        deleted = self._service.delete(key, via_mqtt=False)
        return ApiResponse.document(_accepted(deleted).accepted)

    def _list(self, thing: str, query: Mapping[str, list[str]]) -> ApiResponse:
        _check_thing(thing)
        size = _one(query, "pageSize")
        if size is not None and not size.isdigit():
            raise _RefusedError(INVALID_PAGE_SIZE)
        page = self._service.list_named_shadows(
            thing,
            page_size=None if size is None else int(size),
            next_token=_one(query, "nextToken"),
        )
        return ApiResponse.document(_accepted(page).to_json())

    def _publish(self, topic: str, query: Mapping[str, list[str]], body: bytes) -> ApiResponse:
        qos = _one(query, "qos") or "0"
        if qos not in ("0", "1"):
            raise _RefusedError(Rejection(400, "qos must be 0 or 1"))
        _check_topic(topic)
        retain = (_one(query, "retain") or "false").lower()
        if retain not in ("true", "false"):
            raise _RefusedError(Rejection(400, "retain must be true or false"))
        if retain == "true":
            raise _RefusedError(Rejection(400, _retain_problem(topic)))
        if len(body) > MAX_MESSAGE_BYTES:
            raise _RefusedError(TOO_LARGE)
        try:
            shadow_topic = parse_shadow_topic(topic)
        except InvalidTopicError:
            shadow_topic = None  # a request with bad names: the shadow service answers it
        if shadow_topic is not None and not shadow_topic.is_request:
            raise _RefusedError(
                Rejection(FORBIDDEN.code, f"Forbidden: only the shadow service publishes {topic}")
            )
        try:
            self._transport.publish(topic, body, qos=int(qos)).result(PUBLISH_TIMEOUT)
        except Exception as error:
            log.warning("publish to %s failed: %s", topic, error)
            raise _RefusedError(Rejection(503, "The broker did not take the message")) from error
        return ApiResponse(200)


def _accepted(result: _T | Rejection) -> _T:
    if isinstance(result, Rejection):
        raise _RefusedError(result)
    return result


def _allow(request: ApiRequest, methods: tuple[str, ...]) -> None:
    if request.method not in methods:
        allowed = ", ".join(methods)
        rejection = Rejection(405, f"{request.method} is not allowed here; use {allowed}")
        raise _RefusedError(rejection, {"Allow": allowed})


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _unquote(text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError as error:
        raise _RefusedError(Rejection(400, "The path is not valid UTF-8")) from error


def _check_thing(thing: str) -> None:
    _shadow_key(thing, None)


def _shadow_key(thing: str, name: str | None) -> ShadowKey:
    try:
        return ShadowKey(thing, name)
    except InvalidShadowKeyError as error:
        raise _RefusedError(Rejection(400, str(error))) from error


def _check_topic(topic: str) -> None:
    try:
        validate_topic(topic)
        validate_aws_limits(topic)
    except InvalidTopicError as error:
        raise _RefusedError(Rejection(400, str(error))) from error


def _retain_problem(topic: str) -> str:
    if topic.startswith(AWS_RESERVED_PREFIX):
        return "Messages on reserved $aws topics cannot be retained"
    return "retain=true is not supported by the local IoT Core stand-in"


# ---------------------------------------------------------------- the HTTP server


class DataPlane:
    """The iot-data API on `http://127.0.0.1:<port>` (port 0: a free one), on the stand-in's
    one HTTP server (swan.local.httpapi), which holds bodies to AWS's 128 KiB."""

    def __init__(
        self,
        service: ShadowService,
        transport: Transport,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        check: Callable[[HttpRequest], None] | None = None,
    ) -> None:
        """`check` refuses a request before the API sees it (the stack's: SigV4)."""
        self.api = IotDataApi(service, transport)
        self._check = check
        self._address = (host, port)
        self._limits = replace(limits or ServerLimits(), max_body_bytes=MAX_MESSAGE_BYTES)
        self._server: HttpServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the data plane is not running")
        return self._server.url

    @property
    def server(self) -> HttpServer | None:
        """The running server (None when stopped): its `check` takes a per-request check."""
        return self._server

    def start(self) -> None:
        try:
            self._server = HttpServer(
                "iot-data",
                self.api.handle,
                errors=IOT_DATA_ERRORS,
                limits=self._limits,
                check=self._check,
                host=self._address[0],
                port=self._address[1],
            )
        except OSError as error:
            raise DataPlaneError(*self._address, error.strerror or error) from error
        self._server.start()
        log.info("iot-data API on %s", self.url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
