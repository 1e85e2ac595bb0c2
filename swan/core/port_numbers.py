"""TCP port numbers as settings and the command line give them: one parser, one error.

Every port a user names goes through here: the local system's listeners
(`SWAN_DEVICE_PORT`, `SWAN_IOT_DATA_PORT` and the others, swan.local.stack.LocalPorts),
the port a Pi connects to (`SWAN_DEVICE_PORT` or `swan pi --port`,
swan.commands.device_endpoint) and any other `--port` of the CLI, the shadow service's
`--port` and `--http-port` and the Pi bench's clients (`port_argument`). A port is a whole number
from 1 to 65535 (RFC 793's 16 bits; 0 is no port); a listener also takes 0, "any free
port", as the operating system reads it. A bad one is an `InvalidSettingError` naming the setting.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from swan.core.errors import InvalidSettingError

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_PORT: Final = 65535
ANY_PORT: Final = 0
"""What a listener binds to take any free port."""


def parse_port(name: str, raw: str, *, any_port: bool = False) -> int:
    """`raw`, the value of the setting or option `name`, as a port number (0 too, for any
    free port, when `any_port`)."""
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidSettingError(name, raw, _rule(any_port=any_port))
    return check_port(name, int(raw), any_port=any_port)


def check_port(name: str, port: int, *, any_port: bool = False) -> int:
    """`port`, if it is one (0 too, for any free port, when `any_port`)."""
    lowest = ANY_PORT if any_port else 1
    if not lowest <= port <= MAX_PORT:
        raise InvalidSettingError(name, port, _rule(any_port=any_port))
    return port


def port_argument(name: str = "--port", *, any_port: bool = False) -> Callable[[str], int]:
    """An argparse `type` for the option `name`: this module's rule, in its words (argparse
    prints them after the option's name and exits 2)."""

    def parse(raw: str) -> int:
        try:
            return parse_port(name, raw, any_port=any_port)
        except InvalidSettingError as error:
            raise argparse.ArgumentTypeError(error.problem) from None

    return parse


def _rule(*, any_port: bool) -> str:
    if any_port:
        return f"must be a port number, {ANY_PORT}-{MAX_PORT} ({ANY_PORT} = any free port)"
    return f"must be a port number, 1-{MAX_PORT}"
