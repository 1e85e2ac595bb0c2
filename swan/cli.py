"""The `swan` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import swan
from swan.commands import all_commands
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

STORY = """\
Push the button every 108 minutes to keep the world going.

One shared countdown: a push from the web, a Raspberry Pi's joystick, an AWS IoT Button
or this command resets it for everyone. If nobody pushes in time: system failure.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swan",
        description=STORY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'swan COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {swan.__version__}")
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where local state lives: databases, broker config, logs "
        "(default: $SWAN_STATE_DIR or .swan in the current directory)",
    )
    parser.add_argument(
        "--certs-dir",
        type=Path,
        metavar="DIR",
        help="where certificates and their keys live: the CA, the local server's, devices' "
        "(default: $SWAN_CERTS_DIR or certs in the current directory)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="say more (twice for debug output)"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in all_commands():
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except SwanError as error:
        print(f"swan: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
