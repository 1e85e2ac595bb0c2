"""The web backend's AWS mode end to end, on this machine: Cognito credentials from moto,
MQTT over a SigV4-signed websocket (awsiotsdk) to a private Mosquitto with a TLS websockets
listener, trusting a test CA. Mosquitto does not check the signature (AWS IoT does); what
is tested is everything on the backend's side of it: the identity, the credentials handed
to awscrt through the delegate, the websocket, the client id, the subscriptions and the
messages that arrive.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import queue
import socket
import time
from datetime import UTC, datetime

import boto3
import pytest
from aws_support import fake_credentials
from moto import mock_aws
from support import free_port, unique

from swan.adapters.mqtt import Endpoint, MqttError, connect
from swan.certs.files import CertificateStore
from swan.core.button_shadow import to_reported
from swan.core.countdown import Countdown, Push
from swan.core.topics import BUTTON_SHADOW
from swan.local.child import ChildProcess
from swan.local.mosquitto import find_mosquitto
from webapp.credentials import Credentials, CredentialsUnavailableError
from webapp.feed import Feed
from webapp.link import cognito_link, web_client_id
from webapp.settings import CognitoLogin
from webapp.sigv4 import connect_websocket, credentials_provider

REGION = "eu-west-1"
WAIT = 10

COUNTDOWN = Countdown(
    period_seconds=6480.0,
    deadline=20_000.0,
    phase="counting",
    last_push=Push(13_520.0, "G030JF055364XVRB", "button"),
    pushes=3,
    run_started_at=1000.0,
    failures=0,
    failed_at=None,
    updated_at=13_520.0,
)


def broker_config(directory, port, certs: CertificateStore) -> str:
    """A TLS websockets listener on loopback (named by interface: Mosquitto binds websockets
    listeners to every address otherwise), and the unix-socket listener Mosquitto needs
    besides (it will not start with websockets listeners alone), for the test's publisher."""
    server = certs.server_files
    return f"""\
per_listener_settings true
persistence false
user {getpass.getuser()}
log_dest stderr
log_type all
connection_messages true

listener 0 {directory / "internal.sock"}
allow_anonymous true

listener {port} lo
protocol websockets
certfile {server.certificate}
keyfile {server.key}
allow_anonymous true
"""


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A private Mosquitto: (websocket port, CA file, publisher endpoint, the process)."""
    directory = tmp_path_factory.mktemp("wss-broker")
    certs = CertificateStore.in_state_dir(directory)
    certs.ensure_server(now=datetime.now(UTC))
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(broker_config(directory, port, certs))
    child = ChildProcess(
        "mosquitto (TLS websockets)",
        [str(find_mosquitto()), "-c", str(config)],
        directory / "mosquitto.log",
    )
    child.start(lambda _child: listening(port), 10)
    publisher = Endpoint.local(directory / "internal.sock", unique("pub-"), "test", "test")
    yield port, certs.ca_files.certificate, publisher, child
    child.stop()


@pytest.fixture
def pool(monkeypatch):
    """An identity pool with unauthenticated identities, in moto."""
    fake_credentials(monkeypatch)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        cognito = boto3.client("cognito-identity", region_name=REGION)
        created = cognito.create_identity_pool(
            IdentityPoolName="swan web backend", AllowUnauthenticatedIdentities=True
        )
        yield created["IdentityPoolId"]


def login_for(broker, pool) -> CognitoLogin:
    port, ca_file, _, _ = broker
    return CognitoLogin(
        endpoint="localhost", region=REGION, identity_pool_id=pool, port=port, ca_file=ca_file
    )


def documents(countdown: Countdown, version: int) -> bytes:
    return json.dumps(
        {
            "previous": None,
            "current": {"state": {"reported": to_reported(countdown)}, "version": version},
            "timestamp": 1,
        }
    ).encode()


def test_the_backend_connects_with_cognito_credentials_and_receives_the_shadow(broker, pool):
    _, _, publisher_login, child = broker
    open_link = cognito_link(login_for(broker, pool))
    received: queue.Queue = queue.Queue()
    transport = open_link(on_interrupted=lambda _error: None, on_resumed=lambda: None)
    publisher = connect(publisher_login)
    try:
        transport.subscribe(BUTTON_SHADOW.update_documents, received.put)
        publisher.publish(BUTTON_SHADOW.update_documents, documents(COUNTDOWN, 7)).result(WAIT)
        message = received.get(timeout=WAIT)
    finally:
        publisher.close()
        transport.close()
    assert message.topic == BUTTON_SHADOW.update_documents
    assert message.json()["current"]["version"] == 7
    # It came in over the websocket, as "web." and a random suffix (the role's prefix).
    connected = [line for line in child.output().splitlines() if "New client connected" in line]
    assert any(" as web." in line for line in connected), connected


def test_every_backend_process_has_a_client_id_of_its_own(broker, pool):
    first = cognito_link(login_for(broker, pool))
    second = cognito_link(login_for(broker, pool))
    links = [
        opened(on_interrupted=lambda _error: None, on_resumed=lambda: None)
        for opened in (first, second)
    ]
    try:
        _, _, _, child = broker
        ids = {
            line.split(" as ")[1].split()[0]
            for line in child.output().splitlines()
            if "New client connected" in line and " as web." in line
        }
    finally:
        for transport in links:
            transport.close()
    assert len(ids) >= 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_awscrt_signs_with_what_the_provider_gives_and_fails_without(broker, pool):
    login = login_for(broker, pool)
    asked = []

    def valid():
        asked.append("valid")
        return Credentials("AKIDEXAMPLE", "secret", "token", time.time() + 60, time.time())

    def none_left():
        asked.append("none left")
        raise CredentialsUnavailableError("Cognito unreachable and the last ones expired")

    transport = connect_websocket(login, web_client_id("web."), credentials_provider(valid))
    transport.close()
    with pytest.raises(MqttError, match="connect failed"):
        connect_websocket(login, web_client_id("web."), credentials_provider(none_left))
    assert asked == ["valid", "none left"]  # awscrt asked at each connect, to sign it


def test_the_backend_task_follows_the_button_shadow_in_aws_mode(broker, pool):
    """The Feed, as the Reflex backend runs it, over the AWS link: a get on connect (answered
    here as the shadow service would), then the documents."""
    _, _, service_login, _ = broker
    service = connect(service_login)

    def answer_get(message):
        token = message.json()["clientToken"]
        state = {"state": {"reported": to_reported(COUNTDOWN)}, "version": 8, "timestamp": 1}
        service.publish(
            BUTTON_SHADOW.get_accepted, json.dumps({**state, "clientToken": token}).encode()
        )

    service.subscribe(BUTTON_SHADOW.get, answer_get)
    feed = Feed(cognito_link(login_for(broker, pool)))
    boards = []

    async def until_version(version):
        async with asyncio.timeout(WAIT):
            while not boards or boards[-1][0].version != version:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async def scenario():
        async def publish(board, link):
            boards.append((board, link))

        task = asyncio.create_task(feed.run(publish))
        try:
            await until_version(8)  # the get, through the websocket and back
            later = Countdown(**{**COUNTDOWN.__dict__, "pushes": 4, "deadline": 21_000.0})
            sent = service.publish(BUTTON_SHADOW.update_documents, documents(later, 9))
            await asyncio.wrap_future(sent)
            await until_version(9)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        service.close()
    board, link = boards[-1]
    assert link == "live"
    assert (board.deadline, board.pushes) == (21_000.0, 4)
    assert (board.last_by, board.last_source) == ("G030JF055364XVRB", "IoT Button")
