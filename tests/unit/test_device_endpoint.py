"""Where the Pi connects and as whom: flags, then the environment, then the local system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swan.certs.files import CertificateStore
from swan.commands.device_endpoint import ConnectOptions, default_thing, resolve
from swan.core.errors import InvalidSettingError, InvalidThingNameError
from swan.local.runtime import StackInfo, StackNotRunningError


@pytest.fixture
def running(tmp_path):
    """A state directory whose stack.json says `swan up` runs here (this process), its
    certificates in `stack-certs`."""
    CertificateStore(tmp_path / "stack-certs").ensure_ca(now=_now())
    StackInfo(
        os.getpid(),
        "localhost",
        18883,
        "http://d",
        "http://s",
        "ca.pem",
        str(tmp_path / "stack-certs"),
    ).write(tmp_path)
    return tmp_path


def _now():
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)


def test_locally_the_port_comes_from_the_stack_and_a_certificate_is_issued(running):
    # the running stack's certificate folder, whatever this command's own is
    endpoint = resolve(ConnectOptions(thing="pi-kitchen"), {}, running, running / "certs")
    store = CertificateStore(running / "stack-certs")
    assert (endpoint.host, endpoint.port, endpoint.client_id) == ("localhost", 18883, "pi-kitchen")
    assert endpoint.ca_file == store.ca_files.certificate
    assert endpoint.cert_file == store.device_files("pi-kitchen").certificate
    assert endpoint.cert_file.exists()


def test_locally_without_swan_up_it_says_to_start_it(tmp_path):
    with pytest.raises(StackNotRunningError, match="swan up"):
        resolve(ConnectOptions(thing="pi-kitchen"), {}, tmp_path, tmp_path / "certs")


def test_a_given_port_needs_no_running_stack(tmp_path):
    CertificateStore(tmp_path / "certs").ensure_ca(now=_now())
    endpoint = resolve(ConnectOptions(thing="pi-a", port=9999), {}, tmp_path, tmp_path / "certs")
    assert endpoint.port == 9999


def test_on_aws_the_endpoint_port_and_files_come_from_flags_or_the_environment(tmp_path):
    env = {
        "SWAN_IOT_ENDPOINT": "abc-ats.iot.eu-west-1.amazonaws.com",
        "SWAN_PI_THING": "pi-hall",
        "SWAN_DEVICE_CERT": "/etc/swan/pi.pem",
        "SWAN_DEVICE_KEY": "/etc/swan/pi.key",
        "SWAN_DEVICE_CA": "/etc/swan/AmazonRootCA1.pem",
    }
    endpoint = resolve(ConnectOptions(), env, tmp_path, tmp_path / "certs")
    assert endpoint.host == "abc-ats.iot.eu-west-1.amazonaws.com"
    assert endpoint.port == 8883
    assert endpoint.client_id == "pi-hall"
    assert endpoint.cert_file == Path("/etc/swan/pi.pem")
    assert endpoint.ca_file == Path("/etc/swan/AmazonRootCA1.pem")
    flagged = resolve(ConnectOptions(thing="pi-b", port=443), env, tmp_path, tmp_path / "certs")
    assert (flagged.client_id, flagged.port) == ("pi-b", 443)
    assert (
        resolve(
            ConnectOptions(), {**env, "SWAN_DEVICE_PORT": "8443"}, tmp_path, tmp_path / "certs"
        ).port
        == 8443
    )


def test_on_aws_a_certificate_made_by_swan_certs_is_found(tmp_path):
    store = CertificateStore(tmp_path / "certs")
    store.ensure_device("pi-hall", now=_now())
    endpoint = resolve(
        ConnectOptions(thing="pi-hall", endpoint="iot.example"), {}, tmp_path, tmp_path / "certs"
    )
    assert endpoint.key_file == store.device_files("pi-hall").key
    assert endpoint.ca_file is None  # the system's trust store


def test_on_aws_without_a_certificate_it_says_how_to_make_one(tmp_path):
    with pytest.raises(InvalidSettingError, match="swan certs device pi-hall"):
        resolve(
            ConnectOptions(thing="pi-hall", endpoint="iot.example"),
            {},
            tmp_path,
            tmp_path / "certs",
        )


@pytest.mark.parametrize(
    ("options", "env", "problem"),
    [
        (ConnectOptions(thing="pi", cert_file=Path("c.pem")), {}, "both"),
        (ConnectOptions(thing="pi", endpoint="h"), {"SWAN_DEVICE_PORT": "x"}, "port"),
    ],
)
def test_bad_settings_are_named(tmp_path, options, env, problem):
    with pytest.raises(InvalidSettingError, match=problem):
        resolve(options, env, tmp_path, tmp_path / "certs")


@pytest.mark.parametrize(
    ("options", "env", "thing"),
    [
        (ConnectOptions(thing="pi/1"), {}, "pi/1"),
        (ConnectOptions(thing="x" * 129), {}, "x" * 129),
        (ConnectOptions(), {"SWAN_PI_THING": "pi kitchen"}, "pi kitchen"),
    ],
)
def test_a_bad_thing_name_is_refused_as_aws_refuses_it(tmp_path, options, env, thing):
    with pytest.raises(InvalidThingNameError, match="1 to 128") as refused:
        resolve(options, env, tmp_path, tmp_path / "certs")
    assert refused.value.thing_name == thing


def test_the_default_thing_is_the_hostname_made_a_thing_name():
    assert default_thing("kitchen.local") == "pi-kitchen"
    assert default_thing("my pi!") == "pi-my-pi-"
    assert default_thing("") == "pi-local"
    assert default_thing().startswith("pi-")
