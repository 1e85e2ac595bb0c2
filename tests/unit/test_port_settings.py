"""Every port a user names is parsed by swan.core.port_numbers: the local system's
listeners, the port a Pi connects to, `swan pi --port`."""

from __future__ import annotations

import pytest

from swan.cli import main
from swan.commands.device_endpoint import ConnectOptions, resolve
from swan.core.errors import InvalidSettingError
from swan.local.stack import LocalPorts


def test_the_local_listeners_take_a_port_or_zero_for_any():
    ports = LocalPorts.from_env({"SWAN_DEVICE_PORT": "0", "SWAN_IOT_PORT": "19000"})
    assert (ports.device, ports.iot, ports.webapp) == (0, 19000, LocalPorts().webapp)


@pytest.mark.parametrize("raw", ["x", "65536", "-1"])
def test_a_bad_listener_port_names_its_setting(raw):
    with pytest.raises(InvalidSettingError, match="SWAN_MQTT_WS_PORT") as refused:
        LocalPorts.from_env({"SWAN_MQTT_WS_PORT": raw})
    assert "0 = any free port" in refused.value.problem


@pytest.mark.parametrize(
    ("options", "env", "name"),
    [
        (ConnectOptions(thing="pi", endpoint="h"), {"SWAN_DEVICE_PORT": "0"}, "SWAN_DEVICE_PORT"),
        (ConnectOptions(thing="pi", endpoint="h", port=0), {}, "--port"),
        (ConnectOptions(thing="pi", port=65536), {}, "--port"),
    ],
)
def test_a_pi_connects_to_a_port_1_to_65535(tmp_path, options, env, name):
    with pytest.raises(InvalidSettingError, match="1-65535") as refused:
        resolve(options, env, tmp_path, tmp_path / "certs")
    assert refused.value.name == name


def test_swan_pi_refuses_a_bad_port_with_the_rule(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["pi", "--port", "70000"])
    assert exited.value.code == 2
    assert "argument --port: must be a port number, 1-65535" in capsys.readouterr().err
