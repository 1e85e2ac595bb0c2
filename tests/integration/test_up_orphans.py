"""`swan up` leaves no child behind, however it ends: killed (SIGKILL, no handler runs), its
output's reader gone (`swan up | head -1`), or Ctrl-C through `tee` (SIGINT to the whole
foreground group, the pipe's reader dying with it); the last two stop it cleanly, and warn
of nothing it closed itself (a device and a page connected at the time).

Each test runs the real command as a shell runs a terminal's job (a process group of its
own, `tee` joining it), waits until it is up, and watches its children through pidfds (an
exit is an event to wait for).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from awscrt.auth import AwsCredentialsProvider
from botocore import UNSIGNED
from botocore.config import Config
from support import any_free_ports

from swan.adapters.mqtt_websocket import CognitoLogin, connect_websocket
from swan.local.runtime import StackInfo

WAIT = 30  # for the stack to start, or to stop by itself
GONE = 5  # for every child to be gone once `swan up` is


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def env(state):
    ports = any_free_ports()
    return {**os.environ, **ports, "SWAN_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}


def start_up(env, *, stderr, **options):
    """`swan up` (no web page) as a terminal's job: the leader of a new process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "swan", "up", "--no-web", "--exit-after", "600"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        process_group=0,
        **options,
    )


def wait_until_up(up, last="Ctrl-C stops everything"):
    """Read its output until `last` (by default the banner's end: the stack runs)."""
    deadline = time.monotonic() + WAIT
    seen = []
    for line in up.stdout:
        seen.append(line)
        if last in line:
            return
        if time.monotonic() > deadline:
            break
    pytest.fail("swan up did not come up:\n" + "".join(seen))


def children(pid):
    """The processes `pid` started and that still run, each with a pidfd (so a recycled
    pid cannot be mistaken for it)."""
    found = {}
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, listing.read_text().split()):
            with contextlib.suppress(ProcessLookupError):
                found[child] = os.pidfd_open(child)
    return found


def name_of(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def left_running(pidfds, timeout):
    """The processes among `pidfds` that have not ended within `timeout` seconds."""
    waiting = dict(pidfds)
    deadline = time.monotonic() + timeout
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ended, _, _ = select.select(list(waiting.values()), [], [], left)
        for pidfd in ended:
            waiting = {pid: fd for pid, fd in waiting.items() if fd != pidfd}
    return sorted(waiting)


@pytest.fixture
def reap():
    """Whatever a failed test leaves behind is killed."""
    started = []
    yield started.append
    for pidfds in started:
        for pidfd in pidfds.values():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.close(pidfd)


def its_children(up, reap):
    found = children(up.pid)
    reap(found)
    names = [name_of(pid) for pid in found]
    assert any("mosquitto" in name for name in names), names
    assert any("swan.local.shadow_service" in name for name in names), names
    assert any("swan.local.web_door_service" in name for name in names), names
    return found


def test_killed_its_children_die_with_it(env, reap):
    up = start_up(env, stderr=subprocess.DEVNULL)
    wait_until_up(up)
    found = its_children(up, reap)

    up.kill()  # no handler runs: nothing of its own stops them
    up.wait(WAIT)

    assert left_running(found, GONE) == []


def test_its_reader_gone_it_stops_cleanly(env, state, reap, tmp_path):
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        up = start_up(env, stderr=stderr)
    # Then it writes nothing until the countdown changes: only asking the pipe tells.
    wait_until_up(up, last="waiting for the first push")
    found = its_children(up, reap)

    up.stdout.close()  # `swan up | head -1`: the reader left

    assert up.wait(WAIT) == 0
    assert left_running(found, GONE) == []
    assert not (state / "stack.json").exists()
    said = errors.read_text()
    assert "its output was closed" in said
    assert "Traceback" not in said
    assert "Exception ignored" not in said


def test_a_child_that_ends_by_itself_stops_it_saying_which(env, reap, tmp_path):
    # Pages would lose the stand-in with no word: swan up says which part ended, how, and
    # where its log is, stops everything else and exits 1.
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        up = start_up(env, stderr=stderr)
    wait_until_up(up)
    found = its_children(up, reap)
    door = next(pid for pid in found if "swan.local.web_door_service" in name_of(pid))

    os.kill(door, signal.SIGKILL)

    assert up.wait(WAIT) == 1
    said = up.stdout.read()
    assert "the WebSocket door was killed by SIGKILL (its log: " in said
    assert "web-door.log): stopping everything" in said
    assert "stopped" in said
    assert "swan up: the WebSocket door was killed by SIGKILL" in errors.read_text()
    assert left_running(found, GONE) == []


@contextlib.contextmanager
def a_device(env):
    """A Pi (`swan pi`, its own process) connected through the device gateway."""
    pi = subprocess.Popen(
        [sys.executable, "-m", "swan", "pi", "--thing", "pi-orphans", "--matrix", "recording"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_up(pi, last=": connected")  # after its just-in-time registration
        yield
    finally:
        pi.kill()
        pi.wait()


@contextlib.contextmanager
def a_page(state):
    """A browser's page: a Cognito identity on MQTT over the SigV4-signed WebSocket door."""
    info = StackInfo.read(state)
    region = info.identity_pool_id.split(":")[0]  # a pool's id is "<region>:<uuid>"
    cognito = boto3.client(
        "cognito-identity",
        endpoint_url=info.cognito_url,
        region_name=region,
        config=Config(signature_version=UNSIGNED),
    )
    identity = cognito.get_id(IdentityPoolId=info.identity_pool_id)["IdentityId"]
    keys = cognito.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    login = CognitoLogin(
        endpoint="localhost",
        region=region,
        identity_pool_id=info.identity_pool_id,
        port=int(urlsplit(info.mqtt_wss_url).port or 0),
        ca_file=Path(info.ca_file),
    )
    provider = AwsCredentialsProvider.new_static(
        keys["AccessKeyId"], keys["SecretKey"], keys["SessionToken"]
    )
    page = connect_websocket(login, identity, provider)
    try:
        yield
    finally:
        page.close()


def test_ctrl_c_through_tee_stops_it_cleanly_with_a_device_and_a_page_connected(
    env, state, reap, tmp_path
):
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        up = start_up(env, stderr=stderr)
    # `swan up | tee up.log` in a terminal: tee is in the same foreground process group.
    tee = subprocess.Popen(
        [shutil.which("tee"), str(tmp_path / "up.log")],
        stdin=up.stdout,
        stdout=subprocess.PIPE,
        text=True,
        process_group=up.pid,
    )
    up.stdout.close()  # tee reads it now
    wait_until_up(tee)
    found = its_children(up, reap)

    with a_device(env), a_page(state):
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: to swan up and tee at once
        assert up.wait(WAIT) == 0

    assert tee.wait(WAIT) == -signal.SIGINT
    assert left_running(found, GONE) == []
    assert not (state / "stack.json").exists()
    said = errors.read_text()
    assert "Traceback" not in said
    assert "Exception ignored" not in said
    # Its children were stopped by it, in order, not interrupted under it (nothing of the
    # stack lost the broker), and the connections it closed itself are not warned of.
    assert "WARNING" not in said
    assert "ERROR" not in said
    service_log = (state / "logs" / "shadow-service.log").read_text()
    assert "KeyboardInterrupt" not in service_log
    assert "shadow service stopping" in service_log
