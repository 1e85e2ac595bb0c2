"""Mosquitto, run by the project: its configuration, written into the state directory, and
the broker process, started and stopped with the stack.

Listeners (loopback only):
- devices: mutual TLS with the project's CA; the certificate's CN becomes the username,
  and the ACL's `%u` patterns give each device its own topics;
- internal: the project's own services (shadow service, rules engine), with a password, on a
  unix socket (no Nagle delays between a PUBACK and the message that follows it, and no port);
- web: the web backend, with a password and a read-mostly ACL.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from swan.core.errors import SwanError
from swan.core.topics import BUTTON_THING

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

INSTALL_HINT = "sudo apt-get install -y mosquitto"
START_TIMEOUT = 10.0


class BrokerMissingError(SwanError, FileNotFoundError):
    def __init__(self) -> None:
        super().__init__(f"mosquitto is not installed; install it with: {INSTALL_HINT}")


class BrokerFailedError(SwanError, RuntimeError):
    def __init__(self, problem: str, log_tail: str) -> None:
        self.log_tail = log_tail
        super().__init__(f"mosquitto {problem}" + (f":\n{log_tail}" if log_tail else ""))


@dataclass(frozen=True)
class Account:
    """A broker login for one of the project's own processes."""

    username: str
    password: str


@dataclass(frozen=True)
class BrokerPlan:
    """Everything the broker's configuration says."""

    directory: Path
    device_port: int
    internal_socket: Path
    web_port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    service: Account
    web: Account
    host: str = "127.0.0.1"


# Devices act only on their own topics (the username is the certificate's CN, the thing
# name) and may read the shared button shadow; nobody but the services writes it.
# (Only `pattern` lines apply to every user; `topic` lines before any `user` line would
# apply to anonymous clients only.)
DEVICE_ACL = f"""\
pattern write iotbutton/%u
pattern write swan/push/%u
pattern read swan/push/%u/+
pattern readwrite $aws/things/%u/shadow/#
pattern write $aws/things/{BUTTON_THING}/shadow/get
pattern read $aws/things/{BUTTON_THING}/shadow/get/+
pattern read $aws/things/{BUTTON_THING}/shadow/update/documents
"""

WEB_ACL = f"""\
topic write swan/push/web
topic read swan/push/web/+
topic write $aws/things/{BUTTON_THING}/shadow/get
topic read $aws/things/{BUTTON_THING}/shadow/get/+
topic read $aws/things/{BUTTON_THING}/shadow/update/documents
"""


def render_config(plan: BrokerPlan, run_as: str) -> str:
    """mosquitto.conf for `plan` (files referenced by absolute path)."""
    d = plan.directory
    return f"""\
# Written by `swan up`; regenerated on every start, edits are lost.
per_listener_settings true
persistence false
user {run_as}
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
# The default (1000) drops QoS 1 messages to a slow subscriber during bursts.
max_queued_messages 100000
max_inflight_messages 0
# Nagle's algorithm plus the peer's delayed ACK holds back a small packet written right
# after another for ~40 ms (swan bench: 88 -> 44 ms shadow update -> accepted).
set_tcp_nodelay true

# devices: mutual TLS, the certificate's CN is the username
listener {plan.device_port} {plan.host}
allow_anonymous false
require_certificate true
use_identity_as_username true
cafile {plan.ca_file}
certfile {plan.cert_file}
keyfile {plan.key_file}
acl_file {d / "acl-devices.conf"}

# the project's own services
listener 0 {plan.internal_socket}
allow_anonymous false
password_file {d / "passwd-internal"}
acl_file {d / "acl-internal.conf"}

# the web backend
listener {plan.web_port} {plan.host}
allow_anonymous false
password_file {d / "passwd-web"}
acl_file {d / "acl-web.conf"}
"""


def render_password_line(account: Account, salt: bytes, iterations: int = 101) -> str:
    """One line of a mosquitto 2 password file (PBKDF2-SHA512, the `$7$` format)."""
    digest = hashlib.pbkdf2_hmac("sha512", account.password.encode(), salt, iterations)
    encoded = f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    return f"{account.username}:$7${iterations}${encoded}\n"


def write_config(plan: BrokerPlan) -> Path:
    """Write the config, ACLs and password files; returns the config's path."""
    plan.directory.mkdir(parents=True, exist_ok=True)
    files = {
        "mosquitto.conf": render_config(plan, getpass.getuser()),
        "acl-devices.conf": DEVICE_ACL,
        "acl-internal.conf": f"user {plan.service.username}\ntopic readwrite #\n"
        f"topic readwrite $aws/#\n",
        "acl-web.conf": f"user {plan.web.username}\n{WEB_ACL}",
        "passwd-internal": render_password_line(plan.service, os.urandom(12)),
        "passwd-web": render_password_line(plan.web, os.urandom(12)),
    }
    for name, text in files.items():
        path = plan.directory / name
        # Passwords stay private; the broker runs as this same user.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    return plan.directory / "mosquitto.conf"


def find_mosquitto() -> Path:
    """The broker binary; Debian installs it in /usr/sbin, which users may not have on PATH."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise BrokerMissingError
    return Path(found)


class Mosquitto:
    """The broker as a child process; logs go to `<directory>/mosquitto.log`."""

    def __init__(self, plan: BrokerPlan) -> None:
        self.plan = plan
        self.log_file = plan.directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        binary = find_mosquitto()
        config = write_config(self.plan)
        self.plan.internal_socket.parent.mkdir(parents=True, exist_ok=True)
        self.plan.internal_socket.unlink(missing_ok=True)  # left behind by a killed broker
        with self.log_file.open("ab") as log_out:
            self._process = subprocess.Popen(  # noqa: S603  (our own binary and config)
                [str(binary), "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_out,
                stderr=log_out,
            )
        ports = (self.plan.device_port, self.plan.web_port)
        try:
            self._wait_listening(ports)
        except BaseException:
            self.stop()  # never leave a broker behind
            raise
        log.info(
            "mosquitto %s listening on %s and %s",
            self._process.pid,
            ports,
            self.plan.internal_socket,
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def reload(self) -> None:
        """Re-read ACLs and password files (SIGHUP), e.g. after a device was registered."""
        if self._process is not None:
            self._process.send_signal(1)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_listening(self, ports: Sequence[int]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting: list[int | Path] = [*ports, self.plan.internal_socket]
        while waiting:
            if self._process is not None and self._process.poll() is not None:
                raise BrokerFailedError("exited at start", self._log_tail())
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerFailedError(f"did not listen on {waiting} in time", self._log_tail())
            if _listening(self.plan.host, waiting[0]):
                waiting.pop(0)
            else:
                time.sleep(0.01)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _listening(host: str, where: int | Path) -> bool:
    if isinstance(where, Path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(str(where)) == 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, where)) == 0
