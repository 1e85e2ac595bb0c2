"""`swan up` says which port is taken, and by what, before it starts anything."""

from __future__ import annotations

import os
import socket

import pytest

from swan.local.ports import PortTakenError, ensure_free, holder


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_taken_port_is_named_with_what_holds_it(listener):
    with pytest.raises(PortTakenError) as taken:
        ensure_free({"iot control plane": 0, "devices": listener})
    assert taken.value.port == listener
    assert f"port {listener} (devices)" in str(taken.value)
    assert f"pid {os.getpid()} (" in str(taken.value)
    assert "pytest" in str(taken.value)


def test_free_ports_and_any_port_pass():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    ensure_free({"devices": free, "web page": 0})


def test_nobody_is_named_when_nobody_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert holder(free) is None


def test_without_proc_the_port_is_still_reported_taken(listener, tmp_path):
    with pytest.raises(PortTakenError, match=r"already taken; stop it"):
        ensure_free({"devices": listener}, proc=tmp_path)


def test_swan_up_says_which_port_is_taken_and_by_what_and_starts_nothing(
    listener, tmp_path, capsys
):
    from swan.cli import main  # noqa: PLC0415

    state = tmp_path / "state"
    environment = {"SWAN_DEVICE_PORT": "0", "SWAN_IOT_DATA_PORT": "0"}
    environment |= {"SWAN_SCHEDULER_PORT": "0", "SWAN_WEB_PORT": "0", "SWAN_COGNITO_PORT": "0"}
    environment |= {"SWAN_MQTT_WSS_PORT": "0", "SWAN_MQTT_WS_PORT": "0"}
    environment["SWAN_IOT_PORT"] = str(listener)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        code = main(["--state-dir", str(state), "up", "--exit-after", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1  # not the user's input: the machine's state
    assert lines[-1].startswith(f"swan: port {listener} (iot control plane) on 127.0.0.1")
    assert f"pid {os.getpid()}" in lines[-1]
    assert not state.exists()
