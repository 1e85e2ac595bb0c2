"""The stack's credentials: issued once, kept private, and good for signing."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import pytest

from swan.local.credentials import (
    CREDENTIALS_FILE,
    PROFILE,
    CredentialsFileError,
    function_roles,
    load_or_create,
    write_profile,
)
from swan.local.sigv4 import IncomingRequest, SigV4Verifier, iot_api, iot_data_api
from swan.local.template import load_template

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parents[3] / "sam" / "template.yaml"
ROLES = ("UpdateButtonStatusFunctionRole", "ExpireCountdownFunctionRole")


class _Sent(Exception):  # noqa: N818  (a signal, not an error)
    def __init__(self, request: Any) -> None:
        self.request = request


def _capture(request: Any, **_: Any) -> None:
    raise _Sent(request)


def sent_by(client: Any, operation: str, **params: Any) -> IncomingRequest:
    client.meta.events.register_first("before-send", _capture)
    with pytest.raises(_Sent) as caught:
        getattr(client, operation)(**params)
    prepared = caught.value.request
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    return IncomingRequest(
        prepared.method,
        parts.path,
        parts.query,
        {
            name: value.decode() if isinstance(value, bytes) else value
            for name, value in prepared.headers.items()
        },
        body.encode() if isinstance(body, str) else body,
    )


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_the_first_use_issues_an_admin_key_and_one_per_role_in_a_0600_file(tmp_path: Path) -> None:
    credentials = load_or_create(tmp_path / "state", ROLES)
    path = tmp_path / "state" / CREDENTIALS_FILE
    assert mode(path) == 0o600
    assert credentials.admin.access_key_id.startswith("AKIA")
    assert len(credentials.admin.access_key_id) == 20
    assert credentials.admin.session_token is None
    assert credentials.admin.principal_arn == "arn:aws:iam::000000000000:user/swan-admin"
    assert set(credentials.roles) == set(ROLES)
    role = credentials.role(ROLES[0])
    assert role.access_key_id.startswith("ASIA")
    assert role.session_token
    assert role.principal_arn.endswith(f":assumed-role/{ROLES[0]}/{ROLES[0]}")
    assert [p.name for p in path.parent.iterdir()] == [CREDENTIALS_FILE]  # no temporary left


def test_the_keys_are_kept_across_restarts_and_new_roles_added(tmp_path: Path) -> None:
    first = load_or_create(tmp_path, ROLES[:1])
    again = load_or_create(tmp_path, ROLES[:1])
    assert again == first
    grown = load_or_create(tmp_path, ROLES)
    assert grown.admin == first.admin
    assert grown.role(ROLES[0]) == first.role(ROLES[0])
    assert grown.role(ROLES[1]) not in first.roles.values()


def test_each_stack_issues_its_own_keys(tmp_path: Path) -> None:
    one, other = load_or_create(tmp_path / "a", ROLES), load_or_create(tmp_path / "b", ROLES)
    assert one.admin.access_key_id != other.admin.access_key_id
    assert one.admin.secret_access_key != other.admin.secret_access_key


def test_a_credentials_file_left_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    load_or_create(tmp_path, ROLES)
    path = tmp_path / CREDENTIALS_FILE
    path.chmod(0o644)
    load_or_create(tmp_path, ROLES)
    assert mode(path) == 0o600


@pytest.mark.parametrize("text", ["not json", "[]", '{"admin": {"accessKeyId": "AKIA"}}'])
def test_a_credentials_file_not_written_by_the_stack_is_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text(text)
    with pytest.raises(CredentialsFileError) as caught:
        load_or_create(tmp_path, ROLES)
    assert isinstance(caught.value, ValueError)
    assert caught.value.path == tmp_path / CREDENTIALS_FILE


def test_a_key_is_looked_up_by_its_access_key_id(tmp_path: Path) -> None:
    credentials = load_or_create(tmp_path, ROLES)
    role = credentials.role(ROLES[1])
    assert credentials.lookup(credentials.admin.access_key_id) == credentials.admin
    assert credentials.lookup(role.access_key_id) == role
    assert credentials.lookup("AKIANOBODYISSUEDTHIS") is None


def test_each_function_of_the_template_has_the_role_sam_makes_for_it() -> None:
    assert function_roles(load_template(TEMPLATE)) == {
        "UpdateButtonStatusFunction": "UpdateButtonStatusFunctionRole",
        "ExpireCountdownFunction": "ExpireCountdownFunctionRole",
        "RegisterDeviceFunction": "RegisterDeviceFunctionRole",
    }


def test_a_function_with_a_role_of_its_own_uses_that_role() -> None:
    template = {
        "Resources": {
            "A": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["R", "Arn"]}},
            },
            "B": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Role": {"Fn::GetAtt": "S.Arn"}},
            },
            "C": {"Type": "AWS::Serverless::Function", "Properties": {"Role": "T"}},
            "D": {"Type": "AWS::Serverless::Function"},
            "R": {"Type": "AWS::IAM::Role"},
        }
    }
    assert function_roles(template) == {"A": "R", "B": "S", "C": "T", "D": "DRole"}


def test_a_roles_environment_signs_requests_the_verifier_accepts_as_that_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = load_or_create(tmp_path, ROLES)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in credentials.environment(ROLES[0]).items():
        monkeypatch.setenv(name, value)
    iot_data = boto3.session.Session().client(
        "iot-data", region_name="us-east-1", endpoint_url="http://127.0.0.1:9"
    )
    request = sent_by(iot_data, "get_thing_shadow", thingName="button")
    verifier = SigV4Verifier(iot_data_api("us-east-1"), credentials.lookup)
    assert verifier.verify(request, datetime.now(UTC)) == credentials.role(ROLES[0])
    assert "AWS_SESSION_TOKEN" not in credentials.environment()


@pytest.mark.usefixtures("open_umask")
def test_a_written_profile_points_boto3_at_the_local_endpoints_as_the_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = load_or_create(tmp_path, ROLES)
    endpoint = "http://127.0.0.1:47001"
    config, keys = write_profile(
        tmp_path, credentials, {"iot": endpoint, "iot_data_plane": "http://127.0.0.1:47002"}
    )
    assert (mode(config), mode(keys)) == (0o600, 0o600)
    assert credentials.admin.secret_access_key not in config.read_text()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(keys))
    session = boto3.session.Session(profile_name=PROFILE)
    iot = session.client("iot")
    assert iot.meta.endpoint_url == endpoint
    assert session.client("iot-data").meta.endpoint_url == "http://127.0.0.1:47002"
    request = sent_by(iot, "list_things")
    verifier = SigV4Verifier(iot_api("us-east-1"), credentials.lookup)
    assert verifier.verify(request, datetime.now(UTC)) == credentials.admin
    assert json.loads((tmp_path / CREDENTIALS_FILE).read_text())["admin"]["accessKeyId"] == (
        credentials.admin.access_key_id
    )
