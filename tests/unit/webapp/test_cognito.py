"""The web backend's Cognito credentials against moto's cognito-identity: one identity,
its credentials, refreshed before they expire (moto's live 90 s; the clock is a fake)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from aws_support import fake_credentials
from botocore.stub import Stubber
from moto import mock_aws

from swan.adapters.mqtt import MqttError
from swan.core.topics import WEB_SENDER, PushTopic
from webapp.cognito import CognitoError, CognitoIdentity, cognito_client
from webapp.credentials import CredentialsCache, refresh_at
from webapp.link import cognito_link, link_for
from webapp.settings import CognitoLogin, MqttLogin

REGION = "eu-west-1"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool(monkeypatch):
    fake_credentials(monkeypatch)
    with mock_aws():
        created = boto3.client("cognito-identity", region_name=REGION).create_identity_pool(
            IdentityPoolName="swan web backend", AllowUnauthenticatedIdentities=True
        )
        yield created["IdentityPoolId"]


def test_an_unauthenticated_identity_gets_temporary_credentials(pool, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name)  # the backend's machine has no keys: the calls are unsigned
    clock = Clock()
    identity = CognitoIdentity(cognito_client(REGION), pool, clock)
    credentials = identity.fetch()
    assert identity.identity_id is not None
    assert identity.identity_id.startswith(f"{REGION}:")
    assert credentials.access_key_id
    assert credentials.secret_access_key
    assert credentials.session_token
    assert credentials.fetched_at == clock.now
    assert clock.now < credentials.expiration <= time.time() + 3600


def test_the_cache_fetches_again_before_expiry_for_the_same_identity(pool):
    clock = Clock()
    identity = CognitoIdentity(cognito_client(REGION), pool, clock)
    asked = []

    def fetch():
        asked.append(clock.now)
        return identity.fetch()

    cache = CredentialsCache(fetch, clock)
    first = cache.get()
    first_identity = identity.identity_id
    due = refresh_at(first)
    assert first.fetched_at < due < first.expiration
    clock.now = due - 0.1
    assert cache.get() is first
    clock.now = due  # a safe margin before they expire
    second = cache.get()
    assert second is not first
    assert second.expiration > first.expiration or second.fetched_at > first.fetched_at
    assert len(asked) == 2
    assert identity.identity_id == first_identity  # GetId once; new credentials for it


def test_a_lost_identity_is_replaced_once():
    client = cognito_client(REGION)
    identity = CognitoIdentity(client, f"{REGION}:00000000-0000-0000-0000-000000000000", Clock())
    identity.identity_id = f"{REGION}:11111111-1111-1111-1111-111111111111"
    credentials = {
        "AccessKeyId": "AKID",
        "SecretKey": "secret",
        "SessionToken": "token",
        "Expiration": datetime.now(UTC) + timedelta(hours=1),
    }
    with Stubber(client) as stub:
        stub.add_client_error("get_credentials_for_identity", "ResourceNotFoundException")
        stub.add_response(
            "get_id", {"IdentityId": f"{REGION}:22222222-2222-2222-2222-222222222222"}
        )
        stub.add_response("get_credentials_for_identity", {"Credentials": credentials})
        assert identity.fetch().access_key_id == "AKID"
    assert identity.identity_id.endswith("2222")


def test_other_failures_carry_the_call_and_the_code():
    client = cognito_client(REGION)
    identity = CognitoIdentity(client, f"{REGION}:00000000-0000-0000-0000-000000000000", Clock())
    with Stubber(client) as stub:
        stub.add_client_error("get_id", "TooManyRequestsException")
        with pytest.raises(CognitoError, match="Cognito GetId failed") as raised:
            identity.fetch()
    assert raised.value.code == "TooManyRequestsException"
    assert isinstance(raised.value, ConnectionError)


def test_locally_the_backend_pushes_as_the_web_thing():
    certs = Path("/state/certs")
    local = MqttLogin("localhost", 8883, "web", certs / "ca.pem", certs / "w.pem", certs / "w.key")
    assert link_for(local).push_topic() == PushTopic(WEB_SENDER)


def test_with_cognito_the_backend_pushes_as_its_identity_once_it_has_one():
    aws = CognitoLogin("abc-ats.iot.eu-west-1.amazonaws.com", REGION, f"{REGION}:" + "0" * 36)
    with pytest.raises(MqttError, match="no Cognito identity yet"):
        link_for(aws).push_topic()
    identity = f"{REGION}:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"
    link = cognito_link(aws, fetch=lambda: None, identity_id=lambda: identity)  # type: ignore[arg-type,return-value]
    assert link.push_topic() == PushTopic(identity, identity=True)
    assert link.push_topic().request == f"swan/web/{identity}/push"
