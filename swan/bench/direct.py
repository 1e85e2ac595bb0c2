"""The baseline of gateway: a second, private Mosquitto that devices reach by mutual TLS directly,
as they did before the device gateway.

One TLS listener on a loopback TCP port, requiring a client certificate signed by the
stack's CA and presenting the stack's server certificate; the certificate's common name is
the username; no ACL. Its configuration and log live in a directory of the bench's own; the
broker is started and stopped by its PID, like the stack's.
"""

from __future__ import annotations

import getpass
import logging
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self

from swan.local.mosquitto import (
    START_TIMEOUT,
    BrokerFailedError,
    broker_settings,
    find_mosquitto,
)

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
STOP_WAIT: Final = 5.0


@dataclass(frozen=True)
class DirectPlan:
    """Where the direct broker listens, which certificates it uses, where its files go."""

    directory: Path
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path


def render_config(plan: DirectPlan, run_as: str) -> str:
    """mosquitto.conf of the direct broker (pure). The stack's broker-wide settings
    (swan.local.mosquitto), so that only the path to it differs."""
    return f"""\
# Written by `swan bench`: direct mutual TLS to Mosquitto, the baseline of gateway.
{broker_settings(run_as)}
listener {plan.port} {HOST}
cafile {plan.ca_file}
certfile {plan.cert_file}
keyfile {plan.key_file}
require_certificate true
use_identity_as_username true
allow_anonymous false
"""


class DirectBroker:
    """The direct broker as a child process, for a `with` block."""

    def __init__(self, plan: DirectPlan) -> None:
        self.plan = plan
        self.log_file = plan.directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        binary = find_mosquitto()
        self.plan.directory.mkdir(parents=True, exist_ok=True)
        config = self.plan.directory / "mosquitto.conf"
        config.write_text(render_config(self.plan, getpass.getuser()))
        with self.log_file.open("ab") as log_out:
            self._process = subprocess.Popen(  # noqa: S603  (our own binary and config)
                [str(binary), "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_out,
                stderr=log_out,
            )
        try:
            self._wait_listening(self._process)
        except BaseException:
            self.stop()  # never leave a broker behind
            raise
        log.info("direct mTLS mosquitto %s on %s:%s", self._process.pid, HOST, self.plan.port)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_WAIT)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_listening(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.plan.port):
            if process.poll() is not None:
                raise BrokerFailedError("(direct mTLS) exited at start", self._log_tail())
            if time.monotonic() > deadline:
                problem = f"(direct mTLS) did not listen on {HOST}:{self.plan.port}"
                raise BrokerFailedError(problem, self._log_tail())
            time.sleep(0.01)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((HOST, port)) == 0
