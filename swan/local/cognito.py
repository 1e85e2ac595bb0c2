"""The local stand-in for Amazon Cognito Identity: the template's identity pools, and the two
public calls a browser makes, `GetId` and `GetCredentialsForIdentity`, on the JSON 1.1
protocol that boto3 and `@aws-sdk/credential-provider-cognito-identity` speak (`POST /`,
`Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: AWSCognitoIdentityService.<Op>`;
no signature needed, a signed call is served too). The rules, AWS's messages and where they
come from are in `swan.local.core.cognito`.

What is kept, in `<state>/cognito.db` (swan.local.cognito_store, which also says how far
its tables may grow):
- each pool's id, `<region>:<uuid>`, made the first time the state directory sees the pool
  and kept, as AWS makes one when the stack is deployed (`load_pool_ids` gives them before
  the server is built, e.g. for the stack's context);
- each identity `GetId` made (`<region>:<uuid>`), as AWS keeps them;
- each set of credentials issued, so that `lookup` serves the SigV4 verifier for as long as
  they live, across restarts. They are temporary: `credentials_seconds` (an hour, as AWS's)
  from the call, a session token with them, for the pool's unauthenticated role.

Browsers: a page at one of `allowed_origins` may call the API (CORS): its preflight is
answered with the methods and the headers the AWS SDK sends, and every answer names the
origin and exposes the headers the SDK reads. Any other origin is refused before the API
sees it (`swan.local.httpapi.foreign_request_problem`).

Errors are JSON 1.1's: HTTP 400, a body `{"__type": ..., "message": ...}` and the headers
`x-amzn-ErrorType: <type>:` and `x-amzn-ErrorMessage`, as Cognito answers (e.g.
https://github.com/aws-amplify/amplify-swift/issues/3124). An operation this server does not
know is `UnknownOperationException`, 400, the Coral front end's answer
(https://github.com/aws/aws-sdk-js/issues/425, https://github.com/aws/aws-sdk-net/issues/1536).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import math
import secrets
import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from swan.adapters.clock import SystemClock
from swan.local.cognito_pools import identity_pools, pool_logical_ids
from swan.local.cognito_store import DATABASE, CognitoLimits, CognitoStore, load_pool_ids
from swan.local.core.cognito import (
    GET_CREDENTIALS_FOR_IDENTITY,
    GET_ID,
    SERIALIZATION,
    TARGET_PREFIX,
    Budget,
    CognitoError,
    RequestQuotas,
    check_logins,
    credentials_answer,
    get_credentials_request,
    get_id_request,
    identity_not_found,
    pool_not_found,
    require_unauthenticated_access,
    spend,
    unauthenticated_role,
)
from swan.local.httpapi import (
    ErrorTypes,
    HttpRequest,
    HttpResponse,
    HttpServer,
    MalformedBodyError,
    Request,
    ServerLimits,
)
from swan.local.sigv4 import SigningKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from swan.adapters.clock import Clock
    from swan.local.intrinsics import Context

__all__ = ["CognitoIdentity", "CognitoLimits", "RequestQuotas", "identity_pools", "load_pool_ids"]

log = logging.getLogger(__name__)

CREDENTIALS_SECONDS: Final = 3600
JSON_CONTENT_TYPE: Final = "application/x-amz-json-1.1"
UNKNOWN_OPERATION: Final = "com.amazon.coral.service#UnknownOperationException"

COGNITO_ERRORS: Final = ErrorTypes(
    bad_request="InvalidParameterException",
    too_large="InvalidParameterException",
    internal="InternalErrorException",
    busy="TooManyRequestsException",  # a client error in the model, as all its own: 400
    busy_status=400,
)
# What the AWS SDK for JavaScript sends on these calls (unsigned, or signed) and reads back.
CORS_ALLOW_HEADERS: Final = (
    "content-type, x-amz-target, x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request,"
    " authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256"
)
CORS_EXPOSE_HEADERS: Final = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"
CORS_MAX_AGE: Final = "600"
_KEY_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# ---------------------------------------------------------------- the API


class CognitoIdentity:
    """Cognito Identity for the template's pools on `http://127.0.0.1:<port>`."""

    def __init__(  # noqa: PLR0913 - each setting is its own keyword
        self,
        state_dir: Path,
        template: Mapping[str, Any],
        context: Context,
        *,
        allowed_origins: Iterable[str] = (),
        credentials_seconds: int = CREDENTIALS_SECONDS,
        clock: Clock | None = None,
        limits: CognitoLimits | None = None,
        quotas: RequestQuotas | None = None,
        server_limits: ServerLimits | None = None,
        port: int = 0,
    ) -> None:
        self.region = context.region
        self.account_id = context.account_id
        self.credentials_seconds = credentials_seconds
        self.clock = clock or SystemClock()
        self.quotas = quotas or RequestQuotas()
        self._budgets: dict[str, Budget] = {}  # by operation, for the whole account
        self._budgets_lock = threading.Lock()
        self.database_file = state_dir / DATABASE  # the credentials it issued (SQLite)
        self._store = CognitoStore(self.database_file, limits or CognitoLimits())
        self.pool_ids = self._store.pool_ids(pool_logical_ids(template), self.region)
        context = dataclasses.replace(context, resources={**context.resources, **self.pool_ids})
        self.pools = identity_pools(template, context)
        self._by_id = {pool.pool_id: pool for pool in self.pools.values()}
        self.allowed_origins = frozenset(allowed_origins)
        self.server = HttpServer(
            "cognito-identity",
            self._respond,
            errors=COGNITO_ERRORS,
            limits=server_limits,
            port=port,
            allowed_origins=self.allowed_origins,
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self._store.close()

    def lookup(self, access_key_id: str) -> SigningKey | None:
        """The credentials issued with this access key id, expired or not (the verifier
        refuses an expired one), or None. Safe from any thread."""
        return self._store.key(access_key_id)

    # ------------------------------------------------------------ operations

    def get_id(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._spend(GET_ID)
        request = get_id_request(body)
        pool = self._by_id.get(request.pool_id)
        if pool is None or request.account_id not in (None, self.account_id):
            raise pool_not_found(request.pool_id)
        check_logins(pool, request.logins or {})
        require_unauthenticated_access(pool)
        identity_id = f"{self.region}:{uuid.uuid4()}"
        self._store.add_identity(identity_id, pool.pool_id, self.clock.now())
        log.info("cognito: new identity %s in %s", identity_id, pool.logical_id)
        return {"IdentityId": identity_id}

    def get_credentials_for_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._spend(GET_CREDENTIALS_FOR_IDENTITY)
        request = get_credentials_request(body)
        pool = self._by_id.get(self._store.identity_pool(request.identity_id) or "")
        if pool is None:
            raise identity_not_found(request.identity_id)
        check_logins(pool, request.logins or {})
        role = unauthenticated_role(pool, request.identity_id)
        now = self.clock.now()
        expires = math.floor(now) + self.credentials_seconds
        key = SigningKey(
            access_key_id="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret_access_key=base64.b64encode(secrets.token_bytes(30)).decode(),
            principal_arn=role.session_arn,
            session_token=base64.b64encode(secrets.token_bytes(96)).decode(),
            expires_at=datetime.fromtimestamp(expires, UTC),
            identity_id=request.identity_id,
        )
        self._store.add_credentials(key, expires, now)
        return credentials_answer(
            request.identity_id,
            key.access_key_id,
            key.secret_access_key,
            str(key.session_token),
            expires,
        )

    def _spend(self, target: str) -> None:
        """One request of the account's quota for `target`, or TooManyRequestsException."""
        with self._budgets_lock:
            budget = self._budgets.get(target)
            now = self.clock.now()
            self._budgets[target] = spend(budget, self.quotas.per_second(target), now)

    # ------------------------------------------------------------ HTTP

    def _respond(self, request: HttpRequest) -> HttpResponse:
        cors = self._cors(request.headers)
        if request.method == "OPTIONS":
            preflight = {
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE,
            }
            return HttpResponse(200, b"", {**cors, **preflight})
        target = request.headers.get("x-amz-target", "")
        operations = {
            GET_ID: self.get_id,
            GET_CREDENTIALS_FOR_IDENTITY: self.get_credentials_for_identity,
        }
        operation = operations.get(target)
        if request.method != "POST" or urlsplit(request.target).path != "/" or operation is None:
            return _unknown_operation(target, cors)
        try:
            answer = operation(_body(request))
        except CognitoError as error:
            return _error(error, cors)
        return HttpResponse(
            200, json.dumps(answer).encode(), {"Content-Type": JSON_CONTENT_TYPE, **cors}
        )

    def _cors(self, headers: Mapping[str, str]) -> dict[str, str]:
        origin = headers.get("origin")
        if origin is None or origin not in self.allowed_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
            "Vary": "Origin",
        }


def _body(request: HttpRequest) -> dict[str, Any]:
    parsed = Request(request.method, "/", {}, {}, dict(request.headers), request.body or b"{}")
    try:
        return parsed.json()
    except MalformedBodyError as error:
        raise CognitoError(SERIALIZATION, str(error)) from None


def _error(error: CognitoError, cors: Mapping[str, str]) -> HttpResponse:
    body = json.dumps({"__type": error.error_type, "message": error.message}).encode()
    headers = {
        "Content-Type": JSON_CONTENT_TYPE,
        "x-amzn-ErrorType": f"{error.error_type}:",
        "x-amzn-ErrorMessage": _header_text(error.message),
        **cors,
    }
    return HttpResponse(error.status, body, headers)


def _unknown_operation(target: str, cors: Mapping[str, str]) -> HttpResponse:
    document: dict[str, str] = {"__type": UNKNOWN_OPERATION}
    if target.startswith(f"{TARGET_PREFIX}."):
        document["message"] = f"{target} is not served by the local stand-in"
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-ErrorType": "UnknownOperationException:"}
    return HttpResponse(400, json.dumps(document).encode(), {**headers, **cors})


def _header_text(message: str) -> str:
    """A message as a header value: printable ASCII only (a value echoed from the request
    could otherwise carry a line break or a character the header cannot encode)."""
    return "".join(c if " " <= c <= "~" else "?" for c in message)
