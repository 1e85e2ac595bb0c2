"""The WebSocket door as a child process of the local stack (`swan.local.web_door_service`):
started with the stack, tethered to it, stopped with it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

from swan.local.child import ChildProcess
from swan.local.web_door_service import bound_ports
from swan.local.web_gateway import door_url

if TYPE_CHECKING:
    from pathlib import Path

    from swan.local.web_door_service import DoorProcessPlan

START_TIMEOUT: Final = 20.0


class WebDoorProcess:
    """`python -m swan.local.web_door_service --plan <file>`: MQTT over a signed WebSocket
    on `wss://localhost:<port>/mqtt` and, for browsers, `ws://127.0.0.1:<port>/mqtt`."""

    def __init__(self, plan: DoorProcessPlan, *, plan_file: Path, log_file: Path) -> None:
        self.plan = plan
        self._plan_file = plan_file
        command = [sys.executable, "-m", "swan.local.web_door_service", "--plan", str(plan_file)]
        self.child = ChildProcess("the WebSocket door", command, log_file)
        self.ws_port = plan.door.ws_port
        self.wss_port = plan.door.wss_port

    def url(self, *, tls: bool = True) -> str:
        """The endpoint a client presigns (`swan.local.web_gateway.door_url`)."""
        return door_url(self.wss_port if tls else self.ws_port, tls=tls)

    @property
    def pid(self) -> int | None:
        return self.child.pid

    def launch(self) -> None:
        """Start the process; `start` then waits until it listens."""
        self.plan.write(self._plan_file)
        self.child.launch()

    def start(self) -> None:
        if self.child.pid is None:
            self.plan.write(self._plan_file)  # else `launch` wrote it
        self.child.start(lambda child: bound_ports(child.output()) is not None, START_TIMEOUT)
        ports = bound_ports(self.child.output())
        assert ports is not None  # noqa: S101  (ready means it said them)
        self.ws_port, self.wss_port = ports

    def stop(self) -> None:
        self.child.stop()
