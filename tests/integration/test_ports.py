"""`swan up` says which port is taken, and by what, before it starts anything."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import pytest
from support import any_free_ports

from swan.local import ports
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
    environment = any_free_ports() | {"SWAN_IOT_PORT": str(listener)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        code = main(["--state-dir", str(state), "up", "--exit-after", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1  # not the user's input: the machine's state
    assert lines[-1].startswith(f"swan: port {listener} (iot control plane) on 127.0.0.1")
    assert f"pid {os.getpid()}" in lines[-1]
    assert not state.exists()


# ---------------------------------------------------------------- choosing free ports


class Scripted(random.Random):
    """Picks the given ports in order, then any of the span."""

    def __init__(self, *picks: int) -> None:
        super().__init__(7)
        self.script = list(picks)

    def randrange(self, start, stop=None, step=1):
        if self.script:
            return self.script.pop(0)
        return super().randrange(start, stop, step)


def proc_with_range(tmp_path, first: int, last: int = 60999):
    table = tmp_path / "sys/net/ipv4/ip_local_port_range"
    table.parent.mkdir(parents=True)
    table.write_text(f"{first}\t{last}\n")
    return tmp_path


def test_chosen_ports_are_distinct_free_and_below_the_ephemeral_range(tmp_path):
    proc = proc_with_range(tmp_path, 20_000)
    chosen = ports.free_ports(40, proc=proc)
    assert len(set(chosen)) == 40
    assert all(ports.LOWEST_CHOSEN <= port < 20_000 for port in chosen)
    for port in chosen:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))  # nothing held it


def test_the_machines_ephemeral_range_is_read():
    first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert ports.ephemeral_start() == max(first, ports.LOWEST_CHOSEN + 1)
    assert all(port < ports.ephemeral_start() for port in ports.free_ports(8))


def test_a_held_port_is_passed_over():
    with socket.socket() as server:
        for held in range(ports.LOWEST_CHOSEN + 4321, ports.ephemeral_start()):
            try:
                server.bind(("127.0.0.1", held))  # held here, not handed out by free_ports
            except OSError:
                continue
            break
        server.listen()
        (chosen,) = ports.free_ports(1, rng=Scripted(held))
        assert chosen != held
        with socket.socket() as other:
            other.bind(("127.0.0.1", chosen))


def test_no_port_is_handed_out_twice_in_one_process():
    (first,) = ports.free_ports(1)
    (second,) = ports.free_ports(1, rng=Scripted(first, first))
    assert second != first


def test_too_few_free_ports_is_said(tmp_path):
    proc = proc_with_range(tmp_path, ports.LOWEST_CHOSEN + 1)  # a span of one port
    with pytest.raises(ports.NoFreePortError, match="cannot find 2 free TCP ports"):
        ports.free_ports(2, proc=proc)


def test_an_unreadable_or_too_low_range_falls_back(tmp_path):
    assert ports.ephemeral_start(tmp_path) == ports.EPHEMERAL_START  # no such file
    assert ports.ephemeral_start(proc_with_range(tmp_path, 1024)) == ports.LOWEST_CHOSEN + 1
