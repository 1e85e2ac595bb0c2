"""SigV4 verification for the stand-in's HTTP APIs, by botocore's own signer.

A server hands `SigV4Verifier.verify` the request as it arrived (method, raw path, raw
query string, headers, body) and gets back the `SigningKey` that signed it, or a
`RequestRefusedError` carrying what AWS answers: HTTP 403 and the error type that API uses.
The claim around the signature (shape, scope, time, host) is checked by
`swan.local.core.sigv4`; the signature itself is recomputed here with botocore's `SigV4Auth` (or
`SigV4QueryAuth` for a presigned URL) on an `AWSRequest` rebuilt from the incoming one, at
the request's own `X-Amz-Date`, and compared in constant time. No hand-written crypto.

Which error type each API answers with, as AWS's endpoints answer:
- iot and scheduler, behind AWS's common front end: `MissingAuthenticationTokenException`
  ("Missing Authentication Token"), `IncompleteSignatureException`,
  `UnrecognizedClientException` ("The security token included in the request is invalid."),
  `ExpiredTokenException`, `InvalidSignatureException` (the signature, its scope or its time);
  see "Common Errors" (e.g. https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html)
  and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html;
- iot-data answers every refusal as its modeled 403, `ForbiddenException` (botocore's
  iot-data model; AWS IoT's data endpoint answers a bad signature or token that way).

The signing name comes from botocore's model of each API (`signingName`): iot-data signs
as `iotdata`, iot as `iot`, scheduler as `scheduler`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote_plus

import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from swan.core.errors import SwanError
from swan.local.core.sigv4 import (
    EXPIRED_TOKEN_MESSAGE,
    INVALID_TOKEN_MESSAGE,
    MISMATCH_MESSAGE,
    Refusal,
    SignatureRefusedError,
    SignedClaim,
    check_claim,
    parse_authorization,
    parse_presigned,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

FORBIDDEN: Final = 403

_FRONT_END_ERRORS: Final = {
    Refusal.MISSING: "MissingAuthenticationTokenException",
    Refusal.INCOMPLETE: "IncompleteSignatureException",
    Refusal.UNKNOWN_KEY: "UnrecognizedClientException",
    Refusal.EXPIRED_TOKEN: "ExpiredTokenException",
    Refusal.INVALID: "InvalidSignatureException",
}
_IOT_DATA_ERRORS: Final = dict.fromkeys(Refusal, "ForbiddenException")
_UNSIGNED_WITH_TOKEN: Final = frozenset(("X-Amz-Signature", "X-Amz-Security-Token"))


@dataclass(frozen=True)
class SigningKey:
    """An access key the stack issued, and who signs with it."""

    access_key_id: str
    secret_access_key: str
    principal_arn: str
    session_token: str | None = None  # temporary credentials (a role's) carry one
    expires_at: datetime | None = None
    identity_id: str | None = None  # a Cognito identity's credentials: `<region>:<uuid>`


@dataclass(frozen=True)
class SignedApi:
    """One API as the verifier sees it: its botocore name, the region it serves and the
    error type it answers each refusal with."""

    service: str  # botocore's name: iot-data, iot, scheduler
    region: str
    errors: Mapping[Refusal, str] = field(default_factory=lambda: dict(_FRONT_END_ERRORS))
    # The name the scope must carry, when no botocore model gives it (the MQTT gateway).
    signing: str | None = None
    # AWS IoT's presigned WebSocket URL leaves the session token out of what is signed,
    # and may leave out X-Amz-Expires (the AWS IoT Device SDKs' URLs do).
    token_signed: bool = True
    expires_required: bool = True
    # A presigned URL's payload hash: UNSIGNED-PAYLOAD (botocore's presigning), or the
    # SHA-256 of the (empty) body, as the AWS IoT Device SDKs and the AWS SDK for
    # JavaScript's signer sign a WebSocket upgrade.
    presigned_body_hashed: bool = False

    @property
    def signing_name(self) -> str:
        return self.signing or signing_name(self.service)


def iot_gateway_api(region: str) -> SignedApi:
    """MQTT over WebSocket: the presigned URL names the service `iotdevicegateway`, and the
    session token is appended to it after signing ("When authenticating requests using
    query parameters with temporary security credentials ... do not include
    X-Amz-Security-Token in the canonical query string", AWS IoT Developer Guide, IAM users,
    groups, and roles: https://docs.aws.amazon.com/iot/latest/developerguide/iam-users-groups-roles.html).
    A refused upgrade is answered 403."""
    return SignedApi(
        "iotdevicegateway",
        region,
        dict.fromkeys(Refusal, "ForbiddenException"),
        signing="iotdevicegateway",
        token_signed=False,
        expires_required=False,
        presigned_body_hashed=True,
    )


def iot_data_api(region: str) -> SignedApi:
    return SignedApi("iot-data", region, dict(_IOT_DATA_ERRORS))


def iot_api(region: str) -> SignedApi:
    return SignedApi("iot", region)


def scheduler_api(region: str) -> SignedApi:
    return SignedApi("scheduler", region)


@functools.cache
def signing_name(service: str) -> str:
    """The name a botocore client signs `service` as (its model's `signingName`)."""
    return str(botocore.session.get_session().get_service_model(service).signing_name)


@dataclass(frozen=True)
class IncomingRequest:
    """A request as the server read it: `path` and `query` still percent-encoded as sent,
    header names in any case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""


class RequestRefusedError(SwanError, PermissionError):
    """What AWS answers a request it will not authenticate: status, error type, message."""

    def __init__(self, status: int, error_type: str, message: str, refusal: Refusal) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        self.refusal = refusal
        super().__init__(f"{status} {error_type}: {message}")


class SigV4Verifier:
    """Verifies requests to one API against the keys `lookup` knows."""

    def __init__(self, api: SignedApi, lookup: Callable[[str], SigningKey | None]) -> None:
        self.api = api
        self._lookup = lookup

    def verify(self, request: IncomingRequest, now: datetime) -> SigningKey:
        """The key that signed `request`, or `RequestRefusedError` as AWS would answer."""
        try:
            return self._verified(request, now)
        except SignatureRefusedError as refused:
            raise RequestRefusedError(
                FORBIDDEN, self.api.errors[refused.refusal], refused.message, refused.refusal
            ) from None

    def _verified(self, request: IncomingRequest, now: datetime) -> SigningKey:
        headers = {name.lower(): value for name, value in request.headers.items()}
        pairs = _query_pairs(request.query)
        query = {_unquote(name): _unquote(value) for name, value in pairs}
        authorization = headers.get("authorization")
        presigned = any(name.startswith("X-Amz-") for name in query) and (
            "X-Amz-Signature" in query or "X-Amz-Algorithm" in query
        )
        if authorization is not None and presigned:
            raise SignatureRefusedError(
                Refusal.INCOMPLETE,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                "or the Authorization header should be specified",
            )
        if authorization is not None:
            claim = parse_authorization(authorization, headers.get("x-amz-date"))
            token = headers.get("x-amz-security-token")
        elif presigned:
            claim = parse_presigned(query, expires_required=self.api.expires_required)
            token = query.get("X-Amz-Security-Token")
        else:
            raise SignatureRefusedError(Refusal.MISSING, "Missing Authentication Token")
        check_claim(claim, region=self.api.region, service=self.api.signing_name, now=now)
        key = self._key(claim.access_key_id, token, now)
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
            raise SignatureRefusedError(Refusal.INVALID, MISMATCH_MESSAGE)
        expected = self._signature(request, headers, pairs, claim, key, presigned=presigned)
        if not hmac.compare_digest(expected, claim.signature):
            raise SignatureRefusedError(Refusal.INVALID, MISMATCH_MESSAGE)
        return key

    def _key(self, access_key_id: str, token: str | None, now: datetime) -> SigningKey:
        key = self._lookup(access_key_id)
        if key is None:
            raise SignatureRefusedError(Refusal.UNKNOWN_KEY, INVALID_TOKEN_MESSAGE)
        if key.session_token is None:
            if token is not None:  # a long-term key never comes with a token
                raise SignatureRefusedError(Refusal.UNKNOWN_KEY, INVALID_TOKEN_MESSAGE)
            return key
        if token is None or not hmac.compare_digest(token, key.session_token):
            raise SignatureRefusedError(Refusal.UNKNOWN_KEY, INVALID_TOKEN_MESSAGE)
        if key.expires_at is not None and now >= key.expires_at:
            raise SignatureRefusedError(Refusal.EXPIRED_TOKEN, EXPIRED_TOKEN_MESSAGE)
        return key

    def _signature(
        self,
        request: IncomingRequest,
        headers: Mapping[str, str],
        pairs: list[tuple[str, str]],
        claim: SignedClaim,
        key: SigningKey,
        *,
        presigned: bool,
    ) -> str:
        missing = [name for name in claim.signed_headers if name not in headers]
        if missing:
            raise SignatureRefusedError(Refusal.INVALID, MISMATCH_MESSAGE)
        # The query as sent, minus the signature: botocore canonicalises it from the URL.
        unsigned = {"X-Amz-Signature"} if self.api.token_signed else _UNSIGNED_WITH_TOKEN
        canonical_pairs = [(n, v) for n, v in pairs if not (presigned and n in unsigned)]
        query = "&".join(f"{name}={value}" for name, value in canonical_pairs)
        # http: botocore then always hashes the body, as every client of a loopback endpoint did.
        url = f"http://{headers['host']}{request.path}" + (f"?{query}" if query else "")
        rebuilt = AWSRequest(
            method=request.method,
            url=url,
            headers={name: headers[name] for name in claim.signed_headers},
            data=request.body,
        )
        rebuilt.context["timestamp"] = claim.amz_date
        credentials = Credentials(key.access_key_id, key.secret_access_key, key.session_token)
        signer_type: type[SigV4Auth] = _HeaderAuth
        if presigned:
            hashed = self.api.presigned_body_hashed
            signer_type = _BodyHashingQueryAuth if hashed else _QueryAuth
        signer = signer_type(credentials, self.api.signing_name, self.api.region)
        canonical = signer.canonical_request(rebuilt)
        return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))


class _HeaderAuth(SigV4Auth):  # type: ignore[misc]  # botocore has no types
    """botocore's signer, signing exactly the headers the client said it signed: botocore
    itself never signs hop-by-hop headers, but the AWS IoT Device SDKs sign `connection`
    on a WebSocket upgrade, and AWS verifies what was signed."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        found = HTTPHeaders()
        for name, value in request.headers.items():
            found[name.lower()] = value
        return found


class _QueryAuth(SigV4QueryAuth):  # type: ignore[misc]  # botocore has no types
    headers_to_sign = _HeaderAuth.headers_to_sign


class _BodyHashingQueryAuth(_QueryAuth):
    """Query-string SigV4 whose canonical request carries the body's SHA-256 (of nothing,
    for a GET), not UNSIGNED-PAYLOAD."""

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(request.body or b"").hexdigest()


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """The raw (still percent-encoded) name and value of each query parameter, as sent."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def _unquote(text: str) -> str:
    return unquote_plus(text)
