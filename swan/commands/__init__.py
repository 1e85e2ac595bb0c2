"""Every `swan` subcommand, registered in one place.

A command module exposes `COMMAND`: its name, one line of help, how it adds its arguments
and what it runs. Modules import heavy dependencies inside `run`, so `swan --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from swan.core.port_numbers import port_argument
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from pathlib import Path


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def all_commands() -> tuple[Command, ...]:
    """The commands in the order `swan --help` lists them."""
    from swan.commands import (  # noqa: PLC0415  (keeps the import graph acyclic)
        bench,
        certs,
        deploy,
        devices,
        pi,
        press,
        shadow,
        status,
        up,
    )

    return (
        up.COMMAND,
        press.COMMAND,
        pi.COMMAND,
        status.COMMAND,
        shadow.COMMAND,
        devices.COMMAND,
        certs.COMMAND,
        bench.COMMAND,
        deploy.COMMAND,
    )


def certs_dir(args: argparse.Namespace) -> Path:
    """Where certificates live: `--certs-dir`, else the settings' (`SWAN_CERTS_DIR`, `certs`)."""
    chosen: Path = args.certs_dir or Settings.from_env().certs_dir
    return chosen.resolve()


def port_number(raw: str) -> int:
    """An argparse `type` for a `--port`: swan.core.port_numbers's rule, its words."""
    return port_argument("--port")(raw)
