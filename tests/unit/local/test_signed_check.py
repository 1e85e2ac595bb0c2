"""The servers' check: a signed request goes on only when the signer's role (from
sam/template.yaml) allows the call; the answer to one it does not is AWS's 403."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from swan.local.authorization import (
    ROLE_POLICIES_FILE,
    RolePolicyError,
    read_role_policies,
    role_documents,
    role_statements,
    write_role_policies,
)
from swan.local.httpapi import ApiError, HttpRequest
from swan.local.signed import require_signature, signed_headers
from swan.local.sigv4 import SigningKey, iot_api, iot_data_api, scheduler_api
from swan.local.stack import LOCAL_ROLE_ARN

if TYPE_CHECKING:
    from pathlib import Path

    from swan.local.sigv4 import SignedApi

REGION = "us-east-1"
HOST = "127.0.0.1:48123"
PUSH = "UpdateButtonStatusFunctionRole"
ADMIN = SigningKey(
    "AKIAEXAMPLEADMIN0001",
    "admin/secret/key/aaaaaaaaaaaaaaaaaaaaaaaa",
    "arn:aws:iam::000000000000:user/swan-admin",
)
ROLE = SigningKey(
    "ASIAEXAMPLEROLE00001",
    "role/secret/key/bbbbbbbbbbbbbbbbbbbbbbbbb",
    f"arn:aws:sts::000000000000:assumed-role/{PUSH}/{PUSH}",
    session_token="role-session-token",
)
KEYS = {key.access_key_id: key for key in (ADMIN, ROLE)}


@pytest.fixture(scope="module")
def names(stack):
    resources = stack[1].resources
    return resources["ButtonThing"], resources["ExpiryScheduleGroup"]


def request(api: SignedApi, key: SigningKey, method: str, target: str, body: bytes = b""):
    """The request as the server reads it, signed by `key` with botocore's signer."""
    headers = signed_headers(key, api.service, REGION, method, f"http://{HOST}{target}", body, {})
    lowered = {name.lower(): value for name, value in headers.items()}
    return HttpRequest(method, target, body, {"host": HOST, **lowered})


def refusal(check, sent) -> ApiError:
    with pytest.raises(ApiError) as refused:
        check(sent)
    assert refused.value.status == 403
    return refused.value


def test_a_role_may_make_the_calls_its_statements_allow(roles, names):
    button, group = names
    check = require_signature(iot_data_api(REGION), KEYS.get, roles=roles)
    check(request(iot_data_api(REGION), ROLE, "POST", f"/things/{button}/shadow", b"{}"))
    check(request(iot_data_api(REGION), ROLE, "POST", "/topics/swan/push/pi-1/accepted"))
    target = {"Arn": "arn:x", "RoleArn": LOCAL_ROLE_ARN}
    body = json.dumps({"GroupName": group, "Target": target}).encode()
    schedule = f"/schedules/{button}-expiry"
    require_signature(scheduler_api(REGION), KEYS.get, roles=roles)(
        request(scheduler_api(REGION), ROLE, "PUT", schedule, body)
    )


def test_a_call_outside_the_role_is_refused_with_the_apis_error_type(roles, names):
    _, group = names
    data = require_signature(iot_data_api(REGION), KEYS.get, roles=roles)
    refused = refusal(data, request(iot_data_api(REGION), ROLE, "GET", "/things/pi-1/shadow"))
    assert refused.error_type == "ForbiddenException"
    assert refused.message == (
        f"User: {ROLE.principal_arn} is not authorized to perform: iot:GetThingShadow on"
        " resource: arn:aws:iot:us-east-1:000000000000:thing/pi-1 because no identity-based"
        " policy allows the iot:GetThingShadow action"
    )
    iot = require_signature(iot_api(REGION), KEYS.get, roles=roles)
    assert refusal(iot, request(iot_api(REGION), ROLE, "GET", "/things")).error_type == (
        "AccessDeniedException"
    )
    scheduler = require_signature(scheduler_api(REGION), KEYS.get, roles=roles)
    other = request(scheduler_api(REGION), ROLE, "DELETE", f"/schedules/x?groupName={group}")
    assert refusal(scheduler, other).error_type == "AccessDeniedException"


def test_the_query_is_read_decoded(roles, names):
    button, group = names
    scheduler = require_signature(scheduler_api(REGION), KEYS.get, roles=roles)
    # groupName names the schedule's resource: another group is another schedule.
    elsewhere = f"/schedules/{button}-expiry?groupName=other%2D{group}"
    refused = refusal(scheduler, request(scheduler_api(REGION), ROLE, "GET", elsewhere))
    assert f"schedule/other-{group}/{button}-expiry" in refused.message


def test_the_administrator_may_call_anything(roles):
    check = require_signature(iot_api(REGION), KEYS.get, roles=roles)
    check(request(iot_api(REGION), ADMIN, "GET", "/things"))
    check(request(iot_api(REGION), ADMIN, "DELETE", "/things/pi-1"))


def test_a_request_for_no_operation_is_left_to_the_api(roles):
    check = require_signature(iot_api(REGION), KEYS.get, roles=roles)
    check(request(iot_api(REGION), ROLE, "GET", "/no/such/route"))


def test_without_roles_only_the_signature_is_checked():
    check = require_signature(iot_api(REGION), KEYS.get)
    check(request(iot_api(REGION), ROLE, "DELETE", "/things/pi-1"))


def test_the_roles_recorded_for_the_data_plane_read_back_the_same(stack, tmp_path: Path):
    path = write_role_policies(tmp_path, role_documents(*stack))
    assert path == tmp_path / ROLE_POLICIES_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_role_policies(tmp_path) == role_statements(*stack)


def test_with_no_roles_recorded_no_role_may_call_anything(tmp_path: Path):
    roles = read_role_policies(tmp_path)
    assert roles == {}
    check = require_signature(iot_data_api(REGION), KEYS.get, roles=roles)
    refusal(check, request(iot_data_api(REGION), ROLE, "GET", "/things/button/shadow"))


def test_a_damaged_record_of_the_roles_is_an_error(tmp_path: Path):
    (tmp_path / ROLE_POLICIES_FILE).write_text("{not json")
    with pytest.raises(RolePolicyError, match="not JSON"):
        read_role_policies(tmp_path)
