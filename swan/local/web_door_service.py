"""The WebSocket door (`swan.local.web_gateway`) as a process of its own.

Browsers are most of a large audience, and every copy of every message to each of them is
framed and written by the door: in a process of its own it has its own interpreter lock and
its own open-file limit (a client takes two descriptors: its connection and the relay's to
the broker), beside the device gateway's in the stack's process.

What it needs of the stack comes in a plan file the stack writes (`DoorProcessPlan`): where
to listen, the server certificate, the region and account, each identity role's MQTT
statements, the broker listener identities are piped to, the broker limits, and the local
Cognito's database, read for the credentials it issued (SQLite, shared with the stack). It
says it is ready with the ports it bound (`ready_line`), and stops on SIGTERM, SIGINT, or
when the process that started it is gone.

AWS's one CONNECT a second per client id is kept by each door's process for its own
clients: the template's policies keep their client ids apart (a device connects only as
its thing, an identity only as its id).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from swan.adapters import event_loop
from swan.adapters.descriptors import raise_descriptor_limit
from swan.adapters.private_files import write_private
from swan.local.core.broker_limits import BrokerLimits
from swan.local.service_main import run_service
from swan.local.web_gateway import WebDoorPlan

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

READY: Final = "web door ready"
_READY_PORTS: Final = re.compile(rf"{READY}: ws (\d+), wss (\d+)")
PARENT_POLL_SECONDS: Final = 1.0


@dataclass(frozen=True)
class DoorProcessPlan:
    """Everything the door's process needs of the stack (JSON in a private file)."""

    door: WebDoorPlan
    region: str
    account: str
    partition: str
    roles: dict[str, list[dict[str, Any]]]
    upstream: Path
    cognito_database: Path
    limits: BrokerLimits

    def write(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=1, default=str))  # paths as text

    @classmethod
    def read(cls, path: Path) -> DoorProcessPlan:
        plan = json.loads(path.read_text())
        door = plan["door"]
        return cls(
            door=WebDoorPlan(
                door["host"],
                door["ws_port"],
                door["wss_port"],
                Path(door["cert_file"]),
                Path(door["key_file"]),
            ),
            region=plan["region"],
            account=plan["account"],
            partition=plan["partition"],
            roles=plan["roles"],
            upstream=Path(plan["upstream"]),
            cognito_database=Path(plan["cognito_database"]),
            limits=BrokerLimits(**plan["limits"]),
        )


def ready_line(ws_port: int, wss_port: int) -> str:
    """What the process logs once both ports listen."""
    return f"{READY}: ws {ws_port}, wss {wss_port}"


def bound_ports(output: str) -> tuple[int, int] | None:
    """The (ws, wss) ports a door's log says it listens on, once it says so."""
    found = _READY_PORTS.search(output)
    return None if found is None else (int(found[1]), int(found[2]))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the door until SIGTERM or SIGINT (or its parent is gone)."""
    options = _parser().parse_args(argv)

    def serve() -> int:
        event_loop.run(_serve(DoorProcessPlan.read(options.plan)))
        return 0

    return run_service(serve, verbose=options.verbose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swan.local.web_door_service",
        description="The local AWS IoT Core's MQTT-over-WebSocket door for Cognito identities "
        "(SigV4-presigned URLs), relaying them to the broker.",
    )
    parser.add_argument(
        "--plan", type=Path, required=True, help="the plan file the local stack wrote"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every packet kept back")
    return parser


async def _serve(plan: DoorProcessPlan) -> None:
    # The composition root of this process.
    from swan.local.cognito_store import CognitoLimits, CognitoStore  # noqa: PLC0415
    from swan.local.collector import serving  # noqa: PLC0415
    from swan.local.relay import Relay, quiet_exceptions  # noqa: PLC0415
    from swan.local.web_gateway import WebSocketDoor  # noqa: PLC0415

    raise_descriptor_limit()  # a client is two descriptors: its connection, the broker's
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_exceptions)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    store = CognitoStore(plan.cognito_database, CognitoLimits())
    try:
        door = WebSocketDoor(
            plan.door,
            region=plan.region,
            account=plan.account,
            partition=plan.partition,
            lookup=store.key,
            roles=plan.roles,
            upstream=plan.upstream,
        )
        relay = Relay(plan.limits)
        servers = await door.open(relay)
        with serving():  # thousands of pages' connections: swan.local.collector
            log.info("%s", ready_line(door.ws_port, door.wss_port))
            parent = os.getppid()
            while not stopping.is_set():
                try:
                    await asyncio.wait_for(stopping.wait(), PARENT_POLL_SECONDS)
                except TimeoutError:
                    if os.getppid() != parent:
                        log.info("the process that started the web door is gone")
                        break
            log.info("web door stopping")
            await relay.close(servers)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
