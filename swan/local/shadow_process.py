"""The shadow service as a child process of the local stack.

It gets a process (and an interpreter lock) of its own: its work per update is all Python,
and sharing a process with the rules engine, the handlers and the gateway would cap it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from swan.core.errors import SwanError
from swan.local.shadow_service import PASSWORD_VARIABLE

if TYPE_CHECKING:
    from pathlib import Path

    from swan.local.mosquitto import BrokerPlan

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0
READY = "shadow service ready"


class ShadowServiceFailedError(SwanError, RuntimeError):
    def __init__(self, problem: str, log_tail: str) -> None:
        super().__init__(f"the shadow service {problem}" + (f":\n{log_tail}" if log_tail else ""))


class ShadowServiceProcess:
    """`python -m swan.local.shadow_service`, started and stopped with the stack."""

    def __init__(
        self, *, database: Path, broker: BrokerPlan, http_port: int, log_file: Path
    ) -> None:
        self._database = database
        self._broker = broker
        self._port = http_port
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "swan.local.shadow_service",
            "--db",
            str(self._database),
            "--socket",
            str(self._broker.internal_socket),
            "--username",
            self._broker.service.username,
            "--client-id",
            "swan-shadow-service",
            "--http-port",
            str(self._port),
        ]
        environment = {**os.environ, PASSWORD_VARIABLE: self._broker.service.password}
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log_out:
            self._process = subprocess.Popen(  # noqa: S603  (our own module)
                command, stdin=subprocess.DEVNULL, stdout=log_out, stderr=log_out, env=environment
            )
        try:
            self._wait_ready(offset)
        except BaseException:
            self.stop()
            raise
        log.info("shadow service %s ready on %s", self._process.pid, self.url)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def _wait_ready(self, offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while READY not in self._log_since(offset):
            if self._process is not None and self._process.poll() is not None:
                raise ShadowServiceFailedError("exited at start", self._tail())
            if time.monotonic() > deadline:
                raise ShadowServiceFailedError("did not start in time", self._tail())
            time.sleep(0.02)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as stream:
                stream.seek(offset)
                return stream.read().decode(errors="replace")
        except OSError:
            return ""

    def _tail(self, lines: int = 8) -> str:
        return "\n".join(self._log_since(0).splitlines()[-lines:])
