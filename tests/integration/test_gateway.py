"""The device gateway: who gets in, who doesn't, and what happens to those thrown out."""

from __future__ import annotations

import json
import queue
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
from identity_support import running_identity
from support import local_boto3, start_local_stack, unique

from swan.adapters.mqtt import Endpoint, MqttError, connect, connect_retrying
from swan.certs import authority
from swan.core.backoff import Backoff
from swan.core.codecs import ButtonClick
from swan.core.countdown import Rules
from swan.core.errors import InvalidSettingError

WAIT = 10


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def identity(request, broker, pki, deployment, tmp_path_factory):
    """The gateway of these tests on each event loop it runs on (swan.adapters.event_loop):
    uvloop's, with its own TLS, and asyncio's, with the listener's record-sized TLS."""
    registry_file = tmp_path_factory.mktemp(request.param) / "registry.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWAN_EVENT_LOOP", request.param)
        with running_identity(broker, pki, deployment, registry_file) as running:
            assert type(running.gateway._loop).__module__.startswith(request.param)
            yield running


def test_an_unknown_event_loop_stops_the_gateway_s_start_naming_the_setting(
    broker, pki, deployment, tmp_path, monkeypatch
):
    monkeypatch.setenv("SWAN_EVENT_LOOP", "trio")
    with (
        pytest.raises(InvalidSettingError, match="SWAN_EVENT_LOOP='trio'"),
        running_identity(broker, pki, deployment, tmp_path / "registry.db"),
    ):
        pass  # pragma: no cover - the start raises


def write_pair(directory, name, issued):
    cert = directory / f"{name}.pem"
    key = directory / f"{name}.key"
    cert.write_bytes(authority.certificate_pem(issued.certificate))
    key.write_bytes(authority.private_key_pem(issued.private_key))
    return cert, key


def endpoint_for(identity, tmp_path, thing, issued):
    cert, key = write_pair(tmp_path, thing, issued)
    return Endpoint(
        "localhost",
        identity.port,
        thing,
        ca_file=identity.endpoint(thing).ca_file,
        cert_file=cert,
        key_file=key,
    )


def refused(endpoint):
    with pytest.raises(MqttError):
        connect(endpoint, timeout=5)


def test_a_certificate_from_an_unknown_ca_is_refused(identity, tmp_path):
    now = datetime.now(UTC)
    stranger = authority.create_ca("Somebody else's CA", now=now)
    refused(
        endpoint_for(identity, tmp_path, "pi-x", authority.issue_device(stranger, "pi-x", now=now))
    )


def test_a_self_signed_certificate_is_refused(identity, tmp_path):
    now = datetime.now(UTC)
    refused(endpoint_for(identity, tmp_path, "pi-self", authority.create_ca("pi-self", now=now)))


def register_active(identity, issued, thing):
    registry = identity.registry
    ca = registry.ca_for(issued.certificate)
    pem = authority.certificate_pem(issued.certificate)
    record = registry.register_certificate(pem, ca_id=ca.id, status="ACTIVE")
    registry.create_thing(thing)
    registry.attach_policy(identity.device_policy, record.arn)
    registry.attach_thing_principal(thing, record.arn)


def test_an_expired_certificate_is_refused(identity, tmp_path):
    long_ago = datetime.now(UTC) - timedelta(days=400)
    old_ca = authority.create_ca("An old CA", now=long_ago)
    identity.registry.register_ca(
        authority.certificate_pem(old_ca.certificate), auto_registration=False
    )  # trusted by the running gateway at once: no reload, no restart
    fresh, expired = unique("pi-"), unique("pi-")
    valid = authority.issue_device(old_ca, fresh, now=datetime.now(UTC))
    stale = authority.issue_device(old_ca, expired, now=long_ago, days=1)
    register_active(identity, valid, fresh)
    register_active(identity, stale, expired)
    # the same CA, both registered and ACTIVE: only the validity dates tell them apart
    connect(endpoint_for(identity, tmp_path, fresh, valid), timeout=5).close()
    refused(endpoint_for(identity, tmp_path, expired, stale))


def test_the_client_id_must_be_the_certificates_thing(identity):
    endpoint = identity.provision(unique("pi-"))
    refused(Endpoint(**{**endpoint.__dict__, "client_id": unique("someone-else-")}))


def test_a_revoked_certificate_is_thrown_out_and_stays_out(identity):
    thing = unique("pi-")
    endpoint = identity.provision(thing)
    interrupted = queue.Queue()
    device = connect(endpoint, on_interrupted=interrupted.put)
    try:
        record = next(r for r in identity.registry.certificates() if r.common_name == thing)
        started = time.monotonic()
        identity.registry.set_certificate_status(record.id, "REVOKED")
        interrupted.get(timeout=WAIT)
        assert time.monotonic() - started < 1.0
        while identity.gateway.live_connections(record.id):  # the gateway's own bookkeeping
            assert time.monotonic() - started < 1.0
            time.sleep(0.01)
    finally:
        device.close()
    refused(endpoint)


def test_an_inactive_certificate_is_refused_until_activated(identity):
    thing = unique("pi-")
    endpoint = identity.provision(thing)
    record = next(r for r in identity.registry.certificates() if r.common_name == thing)
    identity.registry.set_certificate_status(record.id, "INACTIVE")
    refused(endpoint)
    identity.registry.set_certificate_status(record.id, "ACTIVE")
    connect(endpoint, timeout=5).close()


@pytest.mark.parametrize(
    "garbage",
    [b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"],
)
def test_garbage_and_truncated_handshakes_are_closed_and_the_gateway_lives_on(identity, garbage):
    with socket.create_connection(("127.0.0.1", identity.port), timeout=5) as raw:
        raw.sendall(garbage)
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(15)
        while raw.recv(4096):
            pass  # the gateway closes it
    connect(identity.provision(unique("pi-")), timeout=5).close()


def test_a_client_that_handshakes_then_sends_no_connect_is_dropped(identity):
    thing = unique("pi-")
    endpoint = identity.provision(thing)
    context = ssl.create_default_context(cafile=str(endpoint.ca_file))
    context.load_cert_chain(str(endpoint.cert_file), str(endpoint.key_file))
    with (
        socket.create_connection(("127.0.0.1", identity.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"\x30\x02\x00\x00")  # a PUBLISH before any CONNECT
        tls.settimeout(15)
        assert tls.recv(1) == b""


def test_no_session_is_handed_out_so_every_connection_is_checked_in_full(identity):
    """TLS 1.3 with no session tickets: a client cannot resume an earlier session, which
    would skip the checks of its certificate's chain and validity."""
    endpoint = identity.provision(unique("pi-"))
    context = ssl.create_default_context(cafile=str(endpoint.ca_file))
    context.load_cert_chain(str(endpoint.cert_file), str(endpoint.key_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    session = None
    for _ in range(2):
        with (
            socket.create_connection(("127.0.0.1", identity.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost", session=session) as tls,
        ):
            assert not tls.session_reused
            tls.sendall(b"\x30\x02\x00\x00")  # a PUBLISH before any CONNECT: closed
            tls.settimeout(15)
            assert tls.recv(1) == b""  # (a ticket would have come before the close)
            session = tls.session
            assert session is not None
            assert not session.has_ticket


# ---------------------------------------------------------------- just-in-time registration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_local_stack(tmp_path_factory.mktemp("state"), Rules())
    yield running
    running.stop()


def test_a_new_device_is_refused_once_then_registered_and_let_in(stack):
    serial = unique("G030").upper()
    stored = stack.certs.ensure_device(serial, now=datetime.now(UTC))
    endpoint = Endpoint(
        "localhost",
        stack.running.identity.port,
        serial,
        ca_file=stack.certs.ca_files.certificate,
        cert_file=stored.files.certificate,
        key_file=stored.files.key,
    )
    with pytest.raises(MqttError):
        connect(endpoint, timeout=5)  # the first connection is refused, as on AWS
    refused_at = time.monotonic()
    device = connect_retrying(endpoint, backoff=Backoff(0.2, 8.0), attempts=10)
    try:
        assert time.monotonic() - refused_at < 2.0
        registry = stack.running.identity.registry
        record = next(r for r in registry.certificates() if r.common_name == serial)
        assert record.status == "ACTIVE"
        assert registry.principal_things(record.arn) == [serial]
        click = json.dumps(ButtonClick(serial, "SINGLE").to_payload()).encode()
        device.publish(f"iotbutton/{serial}", click).result(WAIT)
    finally:
        device.close()


def test_a_ca_registered_through_the_control_plane_is_trusted_at_once(stack, tmp_path):
    iot = local_boto3("iot", stack.endpoints().iot, stack)
    now = datetime.now(UTC)
    second_ca = authority.create_ca("A second CA", now=now)
    code = iot.get_registration_code()["registrationCode"]
    verification = authority.issue_verification(second_ca, code, now=now)
    iot.register_ca_certificate(
        caCertificate=authority.certificate_pem(second_ca.certificate).decode(),
        verificationCertificate=authority.certificate_pem(verification.certificate).decode(),
        setAsActive=True,
    )
    thing = unique("pi-second-ca-")
    device = authority.issue_device(second_ca, thing, now=now)
    registered = iot.register_certificate(
        certificatePem=authority.certificate_pem(device.certificate).decode(), status="ACTIVE"
    )
    iot.create_thing(thingName=thing)
    iot.attach_thing_principal(thingName=thing, principal=registered["certificateArn"])
    iot.attach_policy(policyName="swan-local-device", target=registered["certificateArn"])
    cert, key = write_pair(tmp_path, thing, device)
    endpoint = Endpoint(
        "localhost",
        stack.running.identity.port,
        thing,
        ca_file=stack.certs.ca_files.certificate,
        cert_file=cert,
        key_file=key,
    )
    connect(endpoint, timeout=5).close()  # the first attempt: the gateway trusts it already
    iot.close()


def test_a_registered_device_named_button_is_refused(stack):
    stored = stack.certs.ensure_device("button", now=datetime.now(UTC))
    endpoint = Endpoint(
        "localhost",
        stack.running.identity.port,
        "button",
        ca_file=stack.certs.ca_files.certificate,
        cert_file=stored.files.certificate,
        key_file=stored.files.key,
    )
    with pytest.raises(MqttError):
        connect_retrying(endpoint, backoff=Backoff(0.2, 8.0), attempts=3)
    registry = stack.running.identity.registry
    record = next(r for r in registry.certificates() if r.common_name == "button")
    assert record.status == "PENDING_ACTIVATION"
