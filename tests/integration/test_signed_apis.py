"""The local stack's AWS APIs take only requests signed by a key the stack issued: the
administrator's (the `swan` commands, boto3, the AWS CLI) or a function role's."""

from __future__ import annotations

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import local_boto3, start_local_stack

from swan.core.countdown import Rules
from swan.local.client import LocalApiError, admin_signer, call, shadow_url

NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_local_stack(tmp_path_factory.mktemp("state"), Rules())
    yield running
    running.stop()


def apis(stack):
    endpoints = stack.endpoints()
    return {
        "iot-data": (
            endpoints.iot_data,
            lambda c: c.update_thing_shadow(thingName="pi-admin", payload=b'{"state": {}}'),
        ),
        "iot": (endpoints.iot, lambda c: c.list_things()),
        "scheduler": (endpoints.scheduler, lambda c: c.get_schedule(Name="no-such-schedule")),
    }


def status(call, api_client):
    """The HTTP status the API answered the call with."""
    try:
        return call(api_client)["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"]


def client(service, url, access_key, secret, token=None, region="us-east-1"):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=NO_RETRIES,
    )


@pytest.mark.parametrize("service", ["iot-data", "iot", "scheduler"])
def test_the_administrators_key_is_served(stack, service):
    url, call = apis(stack)[service]
    assert status(call, local_boto3(service, url, stack, config=NO_RETRIES)) in (200, 404)


@pytest.mark.parametrize("service", ["iot-data", "iot", "scheduler"])
@pytest.mark.parametrize("who", ["unknown key", "wrong secret", "wrong region"])
def test_a_key_the_stack_did_not_issue_or_a_bad_signature_is_refused(stack, service, who):
    url, call = apis(stack)[service]
    admin = stack.credentials.admin
    key, secret, region = {
        "unknown key": ("AKIAIOSFODNN7EXAMPLE", admin.secret_access_key, "us-east-1"),
        "wrong secret": (admin.access_key_id, "not-the-secret", "us-east-1"),
        "wrong region": (admin.access_key_id, admin.secret_access_key, "eu-west-1"),
    }[who]
    with pytest.raises(ClientError) as refused:
        call(client(service, url, key, secret, region=region))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("service", ["iot-data", "iot", "scheduler"])
def test_an_unsigned_request_is_refused(stack, service):
    url = apis(stack)[service][0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/things/button/shadow", timeout=10)  # noqa: S310
    assert refused.value.code == 403


def test_a_functions_role_key_signs_for_it(stack):
    role = stack.credentials.role("UpdateButtonStatusFunctionRole")
    iot_data = client(
        "iot-data",
        stack.endpoints().iot_data,
        role.access_key_id,
        role.secret_access_key,
        role.session_token,
    )
    read_the_button = status(lambda c: c.get_thing_shadow(thingName="button"), iot_data)
    assert read_the_button in (200, 404)  # its role's to read: found or not, not refused
    with pytest.raises(ClientError) as refused:  # signed well, but not its role's to read
        iot_data.get_thing_shadow(thingName="nobody-pushed-this")
    assert refused.value.response["Error"]["Code"] == "ForbiddenException"
    assert (
        "is not authorized to perform: iot:GetThingShadow"
        in refused.value.response["Error"]["Message"]
    )


def test_a_role_key_without_its_session_token_is_refused(stack):
    role = stack.credentials.role("UpdateButtonStatusFunctionRole")
    iot = client("iot", stack.endpoints().iot, role.access_key_id, role.secret_access_key)
    with pytest.raises(ClientError) as refused:
        iot.list_things()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_swan_commands_sign_as_the_administrator(stack):
    # swan shadow, swan status and swan certs revoke call through swan.local.client
    url = shadow_url(stack.endpoints().iot_data, "pi-signed", None)
    signer = admin_signer(stack.state_dir, "iot-data")
    call("POST", url, b'{"state": {"reported": {"a": 1}}}', signer=signer)
    assert call("GET", url, signer=signer)["state"]["reported"] == {"a": 1}
    with pytest.raises(LocalApiError) as refused:
        call("GET", url)
    assert (refused.value.status, refused.value.error_type) == (403, "ForbiddenException")
