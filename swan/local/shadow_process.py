"""The shadow service as a child process of the local stack.

It gets a process (and an interpreter lock) of its own: its work per update is all Python,
and sharing a process with the rules engine, the handlers and the gateway would cap it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from swan.local.child import ChildProcess
from swan.local.shadow_service import PASSWORD_VARIABLE

if TYPE_CHECKING:
    from pathlib import Path

    from swan.local.mosquitto import BrokerPlan

START_TIMEOUT = 20.0
READY = "shadow service ready"


def service_command(
    database: Path,
    broker: BrokerPlan,
    *,
    client_id: str,
    http_port: int,
    credentials_dir: Path | None = None,
) -> list[str]:
    """The command line of the shadow service (its password goes in the environment,
    `PASSWORD_VARIABLE`: a random one may start with "-", and argv is visible in `ps`).
    With `credentials_dir`, its iot-data API takes only requests signed by the keys there."""
    signed = [] if credentials_dir is None else ["--credentials-dir", str(credentials_dir)]
    return [
        sys.executable,
        "-m",
        "swan.local.shadow_service",
        "--db",
        str(database),
        "--socket",
        str(broker.internal_socket),
        "--username",
        broker.service.username,
        "--client-id",
        client_id,
        "--http-port",
        str(http_port),
        *signed,
    ]


class ShadowServiceProcess:
    """`python -m swan.local.shadow_service`, started and stopped with the stack."""

    def __init__(
        self,
        *,
        database: Path,
        broker: BrokerPlan,
        http_port: int,
        log_file: Path,
        credentials_dir: Path | None = None,
    ) -> None:
        self._port = http_port
        command = service_command(
            database,
            broker,
            client_id="swan-shadow-service",
            http_port=http_port,
            credentials_dir=credentials_dir,
        )
        environment = {**os.environ, PASSWORD_VARIABLE: broker.service.password}
        self.child = ChildProcess("the shadow service", command, log_file, env=environment)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def launch(self) -> None:
        """Start the process; `start` then waits until it is ready."""
        self.child.launch()

    def start(self) -> None:
        self.child.start(lambda child: READY in child.output(), START_TIMEOUT)

    def stop(self) -> None:
        self.child.stop()
