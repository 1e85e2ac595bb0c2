"""The stand-in's SigV4 verifier against requests signed by real boto3 clients.

Each request is built and signed by boto3's own code path and caught at `before-send`, so
nothing reaches the network; the verifier then sees it as a server would.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swan.local.core.sigv4 import Refusal
from swan.local.sigv4 import (
    IncomingRequest,
    RequestRefusedError,
    SignedApi,
    SigningKey,
    SigV4Verifier,
    iot_api,
    iot_data_api,
    scheduler_api,
    signing_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable

REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:48123"
ADMIN = SigningKey(
    "AKIAEXAMPLEADMIN0001", "admin/secret/key/aaaaaaaaaaaaaaaaaaaaaaaa", "arn:aws:iam::0:user/a"
)
ROLE = SigningKey(
    "ASIAEXAMPLEROLE00001",
    "role/secret/key/bbbbbbbbbbbbbbbbbbbbbbbbb",
    "arn:aws:sts::0:assumed-role/R/R",
    session_token="role-session-token",
)
KEYS = {key.access_key_id: key for key in (ADMIN, ROLE)}


class _Sent(Exception):  # noqa: N818  (a signal, not an error)
    def __init__(self, request: Any) -> None:
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    raise _Sent(request)


def client(service: str, key: SigningKey = ADMIN, **options: Any) -> Any:
    """A boto3 client whose requests stop, signed, just before they would be sent."""
    config = options.pop("config", Config(retries={"max_attempts": 0}))
    made = boto3.session.Session().client(
        service,
        region_name=options.pop("region", REGION),
        endpoint_url=ENDPOINT,
        aws_access_key_id=options.pop("access_key_id", key.access_key_id),
        aws_secret_access_key=options.pop("secret", key.secret_access_key),
        aws_session_token=options.pop("token", key.session_token),
        config=config,
    )
    made.meta.events.register_first("before-send", _capture)
    return made


def sent(call: Callable[[], object]) -> IncomingRequest:
    """The request `call` made, as the server reads it off the wire."""
    with pytest.raises(_Sent) as caught:
        call()
    prepared = caught.value.request
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    return IncomingRequest(
        method=prepared.method,
        path=parts.path,
        query=parts.query,
        headers={name: _text(value) for name, value in prepared.headers.items()},
        body=body.encode() if isinstance(body, str) else bytes(body),
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def verifier(api: SignedApi) -> SigV4Verifier:
    return SigV4Verifier(api, KEYS.get)


def refused(api: SignedApi, request: IncomingRequest, now: datetime | None = None) -> Any:
    with pytest.raises(RequestRefusedError) as caught:
        verifier(api).verify(request, now or datetime.now(UTC))
    assert caught.value.status == 403
    return caught.value


def shadow_update(key: SigningKey = ADMIN, **options: Any) -> IncomingRequest:
    iot_data = client("iot-data", key, **options)
    payload = json.dumps({"state": {"reported": {"on": True}}}).encode()
    return sent(lambda: iot_data.update_thing_shadow(thingName="button", payload=payload))


def list_things(key: SigningKey = ADMIN, **options: Any) -> IncomingRequest:
    iot = client("iot", key, **options)
    return sent(lambda: iot.list_things(maxResults=5, attributeName="kind", attributeValue="a b"))


def get_schedule(key: SigningKey = ADMIN, **options: Any) -> IncomingRequest:
    scheduler = client("scheduler", key, **options)
    return sent(lambda: scheduler.get_schedule(Name="expiry", GroupName="swan"))


# ------------------------------------------------------------------ accepted


def test_each_api_signs_as_its_botocore_model_says() -> None:
    assert signing_name("iot-data") == "iotdata"
    assert signing_name("iot") == "iot"
    assert signing_name("scheduler") == "scheduler"


def test_a_shadow_update_signed_by_the_admin_is_the_admins() -> None:
    caller = verifier(iot_data_api(REGION)).verify(shadow_update(), datetime.now(UTC))
    assert caller == ADMIN


def test_a_call_with_query_parameters_signed_by_a_role_is_the_roles() -> None:
    caller = verifier(iot_api(REGION)).verify(list_things(ROLE), datetime.now(UTC))
    assert caller == ROLE


def test_a_scheduler_call_signed_by_the_admin_is_accepted() -> None:
    caller = verifier(scheduler_api(REGION)).verify(get_schedule(), datetime.now(UTC))
    assert caller.principal_arn == ADMIN.principal_arn


def test_a_request_within_five_minutes_of_its_date_is_accepted_either_side() -> None:
    request = shadow_update()
    now = datetime.now(UTC)
    for offset in (timedelta(minutes=-4, seconds=-50), timedelta(minutes=4, seconds=50)):
        assert verifier(iot_data_api(REGION)).verify(request, now + offset) == ADMIN


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    thing=st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
        min_size=1,
        max_size=40,
    ).filter(lambda name: name.strip(".") != "")
)
def test_any_thing_name_in_the_path_verifies_as_boto3_encoded_it(thing: str) -> None:
    iot = client("iot")
    request = sent(lambda: iot.describe_thing(thingName=thing))
    assert verifier(iot_api(REGION)).verify(request, datetime.now(UTC)) == ADMIN


def test_a_presigned_url_is_accepted_until_it_expires() -> None:
    iot_data = client("iot-data", ROLE)
    url = iot_data.generate_presigned_url(
        "get_thing_shadow", Params={"thingName": "button"}, ExpiresIn=120
    )
    parts = urlsplit(url)
    request = IncomingRequest("GET", parts.path, parts.query, {"host": parts.netloc})
    now = datetime.now(UTC)
    assert verifier(iot_data_api(REGION)).verify(request, now + timedelta(seconds=100)) == ROLE
    expired = refused(iot_data_api(REGION), request, now + timedelta(seconds=200))
    assert "Signature expired" in expired.message


# ------------------------------------------------------------------ refused


def test_an_unsigned_request_is_missing_its_authentication_token() -> None:
    iot = boto3.session.Session().client(
        "iot", region_name=REGION, endpoint_url=ENDPOINT, config=Config(signature_version=UNSIGNED)
    )
    iot.meta.events.register_first("before-send", _capture)
    error = refused(iot_api(REGION), sent(iot.list_things))
    assert (error.error_type, error.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_an_unsigned_shadow_request_is_forbidden_as_iot_data_answers() -> None:
    request = shadow_update()
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    error = refused(iot_data_api(REGION), replace(request, headers=headers))
    assert error.error_type == "ForbiddenException"
    assert error.refusal is Refusal.MISSING


def test_a_forged_signature_does_not_match() -> None:
    request = list_things()
    header = request.headers["Authorization"]
    signature = header.rsplit("Signature=", 1)[1]
    forged = header.replace(signature, "0" * 64)
    error = refused(
        iot_api(REGION), replace(request, headers={**request.headers, "Authorization": forged})
    )
    assert error.error_type == "InvalidSignatureException"
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_signature_made_with_the_wrong_secret_does_not_match() -> None:
    error = refused(iot_api(REGION), list_things(secret="not-the-admins-secret"))
    assert error.error_type == "InvalidSignatureException"


def test_an_unknown_access_key_is_an_unrecognized_client() -> None:
    error = refused(scheduler_api(REGION), get_schedule(access_key_id="AKIANOBODYISSUEDTHIS"))
    assert (error.error_type, error.message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_a_request_signed_for_another_region_is_refused() -> None:
    error = refused(iot_api(REGION), list_things(region="eu-west-1"))
    assert error.error_type == "InvalidSignatureException"
    assert error.message == "Credential should be scoped to a valid region, not 'eu-west-1'."


def test_a_request_signed_for_another_service_is_refused() -> None:
    error = refused(iot_api(REGION), shadow_update())  # signed as iotdata, sent to iot
    assert error.error_type == "InvalidSignatureException"
    assert error.message == "Credential should be scoped to correct service: 'iot'."


def test_a_request_older_than_five_minutes_has_expired() -> None:
    request = list_things()
    error = refused(iot_api(REGION), request, datetime.now(UTC) + timedelta(minutes=5, seconds=5))
    assert error.error_type == "InvalidSignatureException"
    assert error.message.startswith("Signature expired:")
    assert error.message.endswith(" - 5 min.)")


def test_a_request_dated_more_than_five_minutes_ahead_is_not_yet_current() -> None:
    error = refused(iot_api(REGION), list_things(), datetime.now(UTC) - timedelta(minutes=6))
    assert error.message.startswith("Signature not yet current:")


def test_a_tampered_body_does_not_match() -> None:
    request = shadow_update()
    tampered = request.body.replace(b"true", b"false")
    error = refused(iot_data_api(REGION), replace(request, body=tampered))
    assert error.error_type == "ForbiddenException"
    assert error.refusal is Refusal.INVALID


def test_a_tampered_query_does_not_match() -> None:
    request = list_things()
    error = refused(iot_api(REGION), replace(request, query=request.query.replace("5", "250")))
    assert error.error_type == "InvalidSignatureException"


def test_a_tampered_path_does_not_match() -> None:
    request = shadow_update()
    moved = request.path.replace("button", "another")
    assert refused(iot_data_api(REGION), replace(request, path=moved)).refusal is Refusal.INVALID


def test_a_presigned_url_with_a_tampered_query_does_not_match() -> None:
    iot_data = client("iot-data", ROLE)
    url = iot_data.generate_presigned_url("get_thing_shadow", Params={"thingName": "button"})
    parts = urlsplit(url)
    query = parts.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    request = IncomingRequest("GET", parts.path, query, {"host": parts.netloc})
    assert refused(iot_data_api(REGION), request).refusal is Refusal.INVALID


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_changed_byte_of_the_body_is_refused(data: st.DataObject) -> None:
    request = shadow_update()
    index = data.draw(st.integers(0, len(request.body) - 1))
    flip = data.draw(st.integers(1, 255))
    body = bytearray(request.body)
    body[index] ^= flip
    assert (
        refused(iot_data_api(REGION), replace(request, body=bytes(body))).refusal is Refusal.INVALID
    )


def test_temporary_credentials_without_their_session_token_are_refused() -> None:
    error = refused(iot_api(REGION), list_things(ROLE, token=None))
    assert (error.error_type, error.refusal) == ("UnrecognizedClientException", Refusal.UNKNOWN_KEY)


def test_temporary_credentials_with_another_session_token_are_refused() -> None:
    error = refused(iot_api(REGION), list_things(ROLE, token="someone-elses-token"))
    assert error.message == "The security token included in the request is invalid."


def test_a_session_token_on_a_long_term_key_is_refused() -> None:
    error = refused(iot_api(REGION), list_things(ADMIN, token="a-token"))
    assert error.error_type == "UnrecognizedClientException"


def test_expired_temporary_credentials_are_an_expired_token() -> None:
    now = datetime.now(UTC)
    expiring = replace(ROLE, expires_at=now - timedelta(seconds=1))
    checker = SigV4Verifier(iot_api(REGION), {ROLE.access_key_id: expiring}.get)
    with pytest.raises(RequestRefusedError) as caught:
        checker.verify(list_things(ROLE), now)
    assert (caught.value.error_type, caught.value.message) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )


def test_a_signed_header_missing_from_the_request_does_not_match() -> None:
    request = list_things()
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-date"}
    headers["X-Amz-Date"] = request.headers["X-Amz-Date"]
    headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    error = refused(iot_api(REGION), replace(request, headers=headers))
    assert error.refusal is Refusal.INVALID


def test_a_body_hash_header_that_does_not_match_the_body_is_refused() -> None:
    request = shadow_update()
    headers = {**request.headers, "X-Amz-Content-SHA256": "0" * 64}
    assert (
        refused(iot_data_api(REGION), replace(request, headers=headers)).refusal is Refusal.INVALID
    )


def test_a_header_and_a_presigned_signature_together_are_incomplete() -> None:
    request = list_things()
    both = replace(request, query=request.query + "&X-Amz-Algorithm=AWS4-HMAC-SHA256")
    error = refused(iot_api(REGION), both)
    assert error.error_type == "IncompleteSignatureException"


def test_an_authorization_header_of_another_scheme_is_incomplete() -> None:
    request = list_things()
    headers = {**request.headers, "Authorization": "Basic YWRtaW46YWRtaW4="}
    error = refused(scheduler_api(REGION), replace(request, headers=headers))
    assert error.error_type == "IncompleteSignatureException"
