"""Mosquitto, run by the project: its configuration, written into the state directory, and
the broker process, started and stopped with the stack.

Every listener is a unix socket in the state directory (no ports, no Nagle delays between a
PUBACK and the message that follows it):
- internal: the project's own services (shadow service, rules engine), with a password;
- devices: only the device gateway connects here, on behalf of the devices it admitted; the
  ACL is derived from the template's DevicePolicy, with `%c` (the client id, which the
  gateway made sure is the thing name) for the policy variables;
- identities: only the gateway's WebSocket door connects here, on behalf of the browsers'
  Cognito identities it verified; the ACL is derived from the identity pool's role, with
  `%c` (the identity id) for `${cognito-identity.amazonaws.com:sub}`.
The device port and the WebSocket ports belong to the gateway (swan.local.gateway), which
terminates mTLS and verifies the signed WebSocket URLs.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from swan.adapters.private_files import open_private, private_directory
from swan.core.errors import SwanError
from swan.local.child import ChildFailedError, ChildProcess
from swan.local.core.broker_limits import PERSISTENT_SESSION_SECONDS

log = logging.getLogger(__name__)

INSTALL_HINT = "sudo apt-get install -y mosquitto"
MAX_SOCKET_PATH = 100
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
    internal_socket: Path
    device_socket: Path
    identity_socket: Path  # browsers' Cognito identities, over WebSocket
    service: Account
    device_acl: str
    identity_acl: str  # empty without an identity pool's role: nothing is allowed

    @property
    def sockets(self) -> tuple[Path, ...]:
        return (self.internal_socket, self.device_socket, self.identity_socket)


def broker_settings(run_as: str) -> str:
    """The broker-wide lines of every Mosquitto the project runs (pure): queues, TCP, logs
    at notice and up. The stack's broker adds its listeners; so does the bench's direct one."""
    return f"""\
per_listener_settings true
persistence false
user {run_as}
log_dest stderr
log_type error
log_type warning
log_type notice
# The default (1000) drops QoS 1 messages to a slow subscriber during bursts.
max_queued_messages 100000
max_inflight_messages 0
# Nagle's algorithm plus the peer's delayed ACK holds back a small packet written right
# after another for ~40 ms (swan bench: 88 -> 44 ms shadow update -> accepted).
set_tcp_nodelay true
# AWS ends a persistent session an hour after its client disconnects (broker_limits).
persistent_client_expiration {in_hours(PERSISTENT_SESSION_SECONDS)}
"""


def in_hours(seconds: int) -> str:
    """A duration as Mosquitto's `persistent_client_expiration` takes it: whole hours at the
    least (its shortest unit)."""
    hours, rest = divmod(seconds, 3600)
    if rest or hours < 1:
        message = f"Mosquitto keeps sessions for whole hours, not {seconds} s"
        raise ValueError(message)
    return f"{hours}h"


def render_config(plan: BrokerPlan, run_as: str) -> str:
    """mosquitto.conf for `plan` (files referenced by absolute path)."""
    d = plan.directory
    return f"""\
# Written by `swan up`; regenerated on every start, edits are lost.
{broker_settings(run_as)}log_type information
connection_messages true

# the project's own services
listener 0 {plan.internal_socket}
allow_anonymous false
password_file {d / "passwd-internal"}
acl_file {d / "acl-internal.conf"}

# devices, through the device gateway (which authenticated them)
listener 0 {plan.device_socket}
allow_anonymous true
acl_file {d / "acl-devices.conf"}

# browsers' Cognito identities, through the gateway's WebSocket door (which verified them)
listener 0 {plan.identity_socket}
allow_anonymous true
acl_file {d / "acl-identities.conf"}
"""


def render_password_line(account: Account, salt: bytes, iterations: int = 101) -> str:
    """One line of a mosquitto 2 password file (PBKDF2-SHA512, the `$7$` format)."""
    digest = hashlib.pbkdf2_hmac("sha512", account.password.encode(), salt, iterations)
    encoded = f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    return f"{account.username}:$7${iterations}${encoded}\n"


def write_config(plan: BrokerPlan) -> Path:
    """Write the config, ACLs and password files; returns the config's path."""
    private_directory(plan.directory)
    files = {
        "mosquitto.conf": render_config(plan, getpass.getuser()),
        "acl-devices.conf": plan.device_acl,
        "acl-internal.conf": f"user {plan.service.username}\ntopic readwrite #\n"
        f"topic readwrite $aws/#\n",
        "acl-identities.conf": plan.identity_acl,
        "passwd-internal": render_password_line(plan.service, os.urandom(12)),
    }
    for name, text in files.items():
        path = plan.directory / name
        # Passwords stay private; the broker runs as this same user.
        fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
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
        self._child: ChildProcess | None = None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    @property
    def process(self) -> ChildProcess | None:
        """The broker's process, once started."""
        return self._child

    def start(self) -> None:
        binary = find_mosquitto()
        config = write_config(self.plan)
        for path in self.plan.sockets:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # left behind by a killed broker
        self._child = ChildProcess("mosquitto", [str(binary), "-c", str(config)], self.log_file)
        try:
            self._child.start(lambda _child: all(map(_listening, self.plan.sockets)), START_TIMEOUT)
        except ChildFailedError as error:
            raise BrokerFailedError("did not start", error.log_tail) from None

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(str(path)) == 0


def socket_path(state_dir: Path, name: str) -> Path:
    """Where the broker's unix socket `name` lives: in the state directory, unless that path
    is too long for a unix socket (about 100 bytes), then in a private temporary directory."""
    path = state_dir / "broker" / f"{name}.sock"
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(state_dir.resolve())).hexdigest()[:16]
    private = Path(tempfile.gettempdir()) / f"swan-{digest}"
    private.mkdir(mode=0o700, exist_ok=True)
    return private / f"{name}.sock"
