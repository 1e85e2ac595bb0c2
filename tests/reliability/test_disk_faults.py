"""A full disk and a read-only state directory: a clear error, nothing half-written."""

from __future__ import annotations

import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from support import free_port, unique

from swan.adapters.mqtt import Endpoint, connect
from swan.core.topics import ShadowTopics
from swan.local.client import call, shadow_url
from swan.local.mosquitto import Mosquitto
from swan.local.shadow_process import READY, ShadowServiceProcess, service_command
from swan.local.shadow_service import PASSWORD_VARIABLE
from swan.local.stack import broker_plan, local_deployment

if TYPE_CHECKING:
    from pathlib import Path

WAIT = 30
FILE_LIMIT = 256 * 1024  # bytes any file of the service may grow to: a "full disk"


def _small_disk() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process


def start_service_on_a_full_disk(plan, database: Path, port: int) -> subprocess.Popen[bytes]:
    command = service_command(database, plan, client_id=unique("full-disk-"), http_port=port)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, PASSWORD_VARIABLE: plan.service.password, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_small_disk,  # noqa: PLW1509  (a test's child, no threads to worry about)
    )
    deadline = time.monotonic() + WAIT
    assert process.stderr is not None
    while READY not in process.stderr.readline().decode(errors="replace"):
        assert time.monotonic() < deadline, "the service did not start"
        assert process.poll() is None, "the service died at start"
    return process


def test_a_full_disk_refuses_updates_cleanly_and_loses_nothing_accepted(tmp_path):
    plan = broker_plan(tmp_path, local_deployment()[1])
    database = tmp_path / "shadows.db"
    with Mosquitto(plan) as _broker:
        port = free_port()
        process = start_service_on_a_full_disk(plan, database, port)
        login = (plan.service.username, plan.service.password)
        client = connect(Endpoint.local(plan.internal_socket, unique("filler-"), *login))
        answers: queue.Queue[tuple[str, dict]] = queue.Queue()
        for outcome in ("accepted", "rejected"):
            client.subscribe(
                f"$aws/things/+/shadow/update/{outcome}",
                lambda m: answers.put((m.topic, m.json())),
            )
        accepted: dict[str, int] = {}
        refused = 0
        try:
            for index in range(400):
                thing = f"filler-{index:03d}"
                body = {"state": {"reported": {"blob": "x" * 4000}}, "clientToken": thing}
                client.publish(ShadowTopics(thing).update, json.dumps(body).encode()).result(WAIT)
                topic, answer = answers.get(timeout=WAIT)
                if topic.endswith("/accepted"):
                    accepted[thing] = answer["version"]
                else:
                    assert (answer["code"], answer["message"]) == (500, "Internal service failure")
                    assert answer["clientToken"] == thing
                    refused += 1
                    if refused >= 5:
                        break
            assert refused, "the disk never filled up"
            assert process.poll() is None, "a full disk must not take the service down"
            document = call("GET", shadow_url(f"http://127.0.0.1:{port}", "filler-000", None))
            assert document["version"] == 1  # it still serves what it has
        finally:
            client.close()
            process.terminate()
            process.wait(WAIT)

        # With room again, every update that was acknowledged is there, and nothing else.
        shadows = ShadowServiceProcess(
            database=database,
            broker=plan,
            http_port=free_port(),
            log_file=tmp_path / "logs" / "shadow-service.log",
        )
        shadows.start()
        try:
            for index in range(len(accepted) + refused):
                thing = f"filler-{index:03d}"
                url = shadow_url(shadows.url, thing, None)
                if thing in accepted:
                    assert call("GET", url)["version"] == accepted[thing]
                else:
                    with pytest.raises(Exception, match="404"):
                        call("GET", url)
        finally:
            shadows.stop()


def _immutable(path: Path, *, on: bool) -> bool:
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    result = subprocess.run(
        [chattr, "+i" if on else "-i", str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


def test_a_read_only_state_directory_is_a_clear_one_line_error(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    if not _immutable(state, on=True):
        pytest.skip("chattr +i is not available here to make a directory read-only for root")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "swan", "--state-dir", str(state), "up", "--no-web"],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
    finally:
        _immutable(state, on=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"swan: the state directory {state} cannot be written (Operation not permitted);"
        " choose another with --state-dir or SWAN_STATE_DIR\n"
    )
    assert list(state.iterdir()) == []
