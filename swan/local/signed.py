"""Plugging SigV4 and IAM into the stand-in's HTTP servers: every request to an AWS API of
the local stack must be signed by a key the stack issued (swan.local.credentials), and the
signer's identity must be allowed the operation, as on AWS.

`require_signature` is the `HttpServer.check` of the iot, iot-data and scheduler servers: it
hands the request to `SigV4Verifier` with the clock's time and answers a refusal as AWS
does (403 and the API's error type); given the roles' statements, it then asks
`swan.local.authorization` whether the signer may make the call (403 `AccessDenied...`
otherwise). `signed_headers` is the other side, for the project's own raw HTTP calls
(swan.local.client): botocore's signer, as boto3 signs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from swan.local.authorization import AccessDeniedError, authorize, operation
from swan.local.httpapi import ApiError
from swan.local.sigv4 import IncomingRequest, RequestRefusedError, SigV4Verifier, signing_name

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from swan.local.authorization import StatementsByRole
    from swan.local.httpapi import HttpRequest
    from swan.local.sigv4 import SignedApi, SigningKey


def require_signature(
    api: SignedApi,
    lookup: Callable[[str], SigningKey | None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    roles: StatementsByRole | None = None,
) -> Callable[[HttpRequest], None]:
    """A server check that refuses every request not signed for `api` by a known key and,
    given `roles` (each role's statements), every call the signer's identity may not make.
    A request for no operation of the API is left for the API to answer (404)."""
    verifier = SigV4Verifier(api, lookup)

    def check(request: HttpRequest) -> None:
        path, _, query = request.target.partition("?")
        incoming = IncomingRequest(request.method, path, query, request.headers, request.body)
        try:
            key = verifier.verify(incoming, now())
        except RequestRefusedError as refused:
            raise ApiError(refused.status, refused.error_type, refused.message) from None
        if roles is None:
            return
        values = dict(parse_qsl(query, keep_blank_values=True))
        checks = operation(api.service, request.method, path, values, request.body, request.headers)
        if checks is None:
            return
        try:
            authorize(api.service, key.principal_arn, roles, checks)
        except AccessDeniedError as denied:
            raise ApiError(denied.status, denied.error_type, denied.message) from None

    return check


def signed_headers(
    key: SigningKey,
    service: str,
    region: str,
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
) -> dict[str, str]:
    """`headers` and the SigV4 ones (Authorization, X-Amz-Date, the session token) for a
    request to `service` (botocore's name), signed with `key` as boto3 would sign it."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    credentials = Credentials(key.access_key_id, key.secret_access_key, key.session_token)
    SigV4Auth(credentials, signing_name(service), region).add_auth(request)
    return dict(request.headers.items())
