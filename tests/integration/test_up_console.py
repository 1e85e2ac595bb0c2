"""`swan up` as a user runs it: a real process, a second terminal running commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import boto3
import pytest
from support import free_port

WAIT = 30


class Terminal:
    """A `swan up` process whose output is read as it comes."""

    def __init__(self, cwd, env, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "swan", "up", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.closed = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait_for(self, text, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    pytest.fail(f"no {text!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(left)

    def type(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()


@pytest.fixture
def env():
    ports = {
        "SWAN_DEVICE_PORT": 0,  # any free port: what was bound must reach stack.json
        "SWAN_IOT_DATA_PORT": free_port(),
        "SWAN_SCHEDULER_PORT": free_port(),
        "SWAN_IOT_PORT": free_port(),
        "SWAN_COGNITO_PORT": free_port(),
        "SWAN_MQTT_WSS_PORT": free_port(),
        "SWAN_MQTT_WS_PORT": free_port(),
    }
    inherited = {k: v for k, v in os.environ.items() if k != "SWAN_CERTS_DIR"}  # the default
    return {**inherited, **{k: str(v) for k, v in ports.items()}, "SWAN_STATE_DIR": ".state"}


def swan(cwd, env, *args):
    return subprocess.run(
        [sys.executable, "-m", "swan", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_up_press_status_and_ctrl_c(tmp_path, env, monkeypatch):
    up = Terminal(tmp_path, env, "--no-web")
    try:
        up.wait_for("The Swan is up")
        up.wait_for("waiting for the first push")
        assert (tmp_path / "certs" / "ca.pem").exists()  # certs/ beside the state, not in it
        assert not (tmp_path / ".state" / "certs").exists()

        pressed = swan(tmp_path, env, "press", "--serial", "G030JF0553648RUH")
        assert pressed.returncode == 0, pressed.stderr
        assert "registering it just in time" in pressed.stderr
        assert "the countdown restarted: 1 pushes so far" in pressed.stdout
        up.wait_for("last push by G030JF0553648RUH (button)")

        status = json.loads(swan(tmp_path, env, "status", "--json").stdout)
        assert status["phase"] == "counting"
        assert status["lastPush"]["source"] == "button"
        assert status["recent"][0]["by"] == "G030JF0553648RUH"

        shadow = json.loads(swan(tmp_path, env, "shadow", "get", "button").stdout)
        assert shadow["state"]["reported"]["pushes"] == 1

        # boto3 (as the AWS CLI) with the profile swan up wrote, the keys readable by us only
        state = tmp_path / ".state"
        monkeypatch.setenv("AWS_CONFIG_FILE", str(state / "aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(state / "aws-credentials"))
        assert (state / "aws-credentials").stat().st_mode & 0o777 == 0o600
        iot_data = boto3.Session(profile_name="swan-local").client("iot-data")
        document = json.loads(iot_data.get_thing_shadow(thingName="button")["payload"].read())
        assert document["state"]["reported"]["pushes"] == 1

        up.type("")  # Enter pushes from the console
        up.wait_for("last push by console (cli)")

        devices = json.loads(swan(tmp_path, env, "devices", "--json").stdout)
        (button,) = [t for t in devices["things"] if t["name"] == "G030JF0553648RUH"]
        assert button["certificates"][0]["status"] == "ACTIVE"
        assert button["certificates"][0]["policies"] == ["swan-local-device"]

        revoked = swan(tmp_path, env, "certs", "revoke", "G030JF0553648RUH")
        assert revoked.returncode == 0, revoked.stderr
        assert "by the running swan up" in revoked.stdout
        refused = swan(tmp_path, env, "press", "--serial", "G030JF0553648RUH", "--attempts", "2")
        assert refused.returncode == 1
        assert "MQTT connect failed" in refused.stderr

        again = swan(tmp_path, env, "up")
        assert again.returncode == 1
        assert "already running" in again.stderr
    finally:
        up.process.send_signal(signal.SIGINT)
        up.process.wait(WAIT)
    up.wait_for("stopped")
    assert up.process.returncode == 0
    assert not (tmp_path / ".state" / "stack.json").exists()


def test_the_swan_rules_refuse_a_push_without_the_code(tmp_path, env):
    up = Terminal(tmp_path, env, "--no-web", "--rules", "swan", "--exit-after", "20")
    try:
        up.wait_for("waiting for the first push")
        up.type("")
        up.wait_for("refused: the code is 4 8 15 16 23 42, then Execute")
        up.type("4 8 15 16 23 42")
        up.wait_for("last push by console (cli)")
    finally:
        up.process.send_signal(signal.SIGINT)
        up.process.wait(WAIT)
