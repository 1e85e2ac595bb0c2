"""The web backend's AWS mode end to end, on this machine, against the local stand-in as
AWS would answer: an unauthenticated identity from the local Cognito Identity, MQTT over a
SigV4-signed websocket (awsiotsdk) through the gateway's WebSocket door, which checks the
signature and holds the connection to the identity pool's role, then the real push path."""

from __future__ import annotations

import asyncio
import json
import queue
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from support import start_local_stack, unique

from swan.adapters.mqtt import MqttError, connect
from swan.core.codecs import ButtonClick, PushAccepted
from swan.core.countdown import Rules
from swan.core.topics import BUTTON_SHADOW
from webapp.credentials import Credentials, CredentialsUnavailableError
from webapp.feed import Feed
from webapp.link import cognito_link
from webapp.settings import CognitoLogin
from webapp.sigv4 import connect_websocket, credentials_provider

REGION = "us-east-1"
WAIT = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_local_stack(tmp_path_factory.mktemp("state"), Rules())
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def cognito(stack, monkeypatch):
    """boto3 finds the local Cognito Identity as it would AWS's (the endpoint variable)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY", stack.endpoints().cognito)
    return boto3.client(
        "cognito-identity", region_name=REGION, config=Config(signature_version=UNSIGNED)
    )


def login_for(stack) -> CognitoLogin:
    endpoints = stack.endpoints()
    port = int(endpoints.mqtt_wss.rsplit(":", 1)[1].split("/")[0])
    return CognitoLogin(
        endpoint="localhost",
        region=REGION,
        identity_pool_id=endpoints.identity_pool_id,
        port=port,
        ca_file=endpoints.ca_file,
    )


def opened(link):
    return link(on_interrupted=lambda _error: None, on_resumed=lambda: None)


def click(stack, serial: str) -> None:
    device = connect(stack.device_endpoint(serial))
    try:
        payload = json.dumps(ButtonClick(serial, "SINGLE").to_payload()).encode()
        device.publish(f"iotbutton/{serial}", payload).result(WAIT)
    finally:
        device.close()


def test_the_backend_connects_as_its_identity_and_follows_the_button_shadow(stack):
    link = cognito_link(login_for(stack))
    received: queue.Queue = queue.Queue()
    transport = opened(link)
    try:
        identity = link.push_topic().sender
        assert link.push_topic().request == f"swan/web/{identity}/push"
        transport.subscribe(BUTTON_SHADOW.update_documents, received.put)
        serial = unique("G030").upper()
        click(stack, serial)
        message = received.get(timeout=WAIT)
    finally:
        transport.close()
    assert message.json()["current"]["state"]["reported"]["lastPush"]["by"] == serial
    # The gateway let it in as its identity: the id Cognito gave it, an identity of the pool.
    assert identity.startswith(f"{REGION}:")


def test_every_backend_process_has_an_identity_and_a_client_id_of_its_own(stack):
    first, second = cognito_link(login_for(stack)), cognito_link(login_for(stack))
    links = [opened(first), opened(second)]
    try:
        ids = {first.push_topic().sender, second.push_topic().sender}
    finally:
        for transport in links:
            transport.close()
    assert len(ids) == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_awscrt_signs_with_what_the_provider_gives_and_fails_without(stack, cognito):
    login = login_for(stack)
    identity = cognito.get_id(IdentityPoolId=login.identity_pool_id)["IdentityId"]
    issued = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    asked = []

    def valid():
        asked.append("valid")
        return Credentials(
            issued["AccessKeyId"],
            issued["SecretKey"],
            issued["SessionToken"],
            issued["Expiration"].timestamp(),
            time.time(),
        )

    def made_up():
        asked.append("made up")
        return Credentials("ASIAMADEUP0000000000", "secret", "token", time.time() + 60, 0.0)

    def none_left():
        asked.append("none left")
        raise CredentialsUnavailableError("Cognito unreachable and the last ones expired")

    transport = connect_websocket(login, identity, credentials_provider(valid))
    transport.close()
    with pytest.raises(MqttError, match="connect failed"):  # the door: 403, unknown key
        connect_websocket(login, identity, credentials_provider(made_up))
    with pytest.raises(MqttError, match="connect failed"):
        connect_websocket(login, identity, credentials_provider(none_left))
    assert asked == ["valid", "made up", "none left"]  # awscrt asked at each connect


def test_the_backend_task_follows_the_shadow_and_pushes_as_its_identity(stack):
    """The Feed, as the Reflex backend runs it, over the AWS link: the shadow on connect,
    then a push on the identity's own topic, answered by the real push handler."""
    feed = Feed(cognito_link(login_for(stack)))
    boards = []

    async def scenario():
        async def publish(board, link):
            boards.append((board, link))

        task = asyncio.create_task(feed.run(publish))
        try:
            async with asyncio.timeout(WAIT):
                while not boards or boards[-1][1] != "live":  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            return await feed.push("browser-session")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    answer = asyncio.run(scenario())
    assert isinstance(answer, PushAccepted), answer
    assert answer.pushes >= 1
