"""`swan pi`: the Raspberry Pi client (Sense HAT, its emulator, or a terminal stand-in)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from swan.commands import Command, certs_dir, port_number
from swan.core.backoff import RECONNECT
from swan.core.errors import InvalidSettingError
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

    from device.matrix import MatrixName

DESCRIPTION = """\
Run a Raspberry Pi of The Swan: follow the shared countdown and show it on the Sense HAT's
8x8 LEDs; a joystick press pushes the button. The Pi connects with MQTT 5 over mutual TLS
as its own thing (client id = thing name), to AWS IoT Core or to the local system that
`swan up` runs, with the same code, and keeps reconnecting with backoff and jitter (a new
device's first connection is refused while it is registered just in time).

It reports its own shadow (online, firmware, display, brightness, lowLight, lastPushSeen),
applies `desired` brightness (0 to 1) and lowLight from its shadow's delta, and has a last
will on swan/status/THING so others see it go offline. SIGTERM or Ctrl-C clears the LEDs
and reports it offline.

Matrices: sensehat (the real HAT), emu (the Sense HAT emulator; start `sense_emu_gui`
first), terminal (colour blocks and the time left; Enter or space pushes), png (pictures
into --frames DIR), recording (keeps frames in memory; for tests and the bench).

Local (default): the port comes from the running `swan up`, the certificate from the
state directory (issued by the local CA on first use). AWS: give --endpoint (your
iot:Data-ATS endpoint), --cert and --key (from `swan certs device THING`), and --ca if the
system's trust store lacks Amazon Root CA 1. Environment: SWAN_PI_THING,
SWAN_IOT_ENDPOINT, SWAN_DEVICE_PORT, SWAN_DEVICE_CA, SWAN_DEVICE_CERT, SWAN_DEVICE_KEY.
"""

AUTO = "auto"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from device.matrix import MATRICES  # noqa: PLC0415

    parser.add_argument(
        "--thing", metavar="NAME", help="this Pi's thing name (default: pi-<hostname>)"
    )
    parser.add_argument(
        "--matrix",
        choices=(AUTO, *MATRICES),
        default=AUTO,
        help="where the frames go (default: sensehat if sense_hat is installed, else terminal)",
    )
    parser.add_argument(
        "--endpoint", metavar="HOST", help="the IoT endpoint (default: the local system)"
    )
    parser.add_argument(
        "--port", type=port_number, metavar="N", help="its port (default: 8883, or the local one)"
    )
    parser.add_argument("--ca", type=Path, metavar="FILE", help="CA certificate to trust")
    parser.add_argument("--cert", type=Path, metavar="FILE", help="this Pi's certificate")
    parser.add_argument("--key", type=Path, metavar="FILE", help="this Pi's private key")
    parser.add_argument(
        "--frames", type=Path, metavar="DIR", help="where the png matrix writes its pictures"
    )
    parser.add_argument(
        "--no-keys",
        action="store_true",
        help="the terminal matrix does not read the keyboard (another program does)",
    )
    parser.add_argument(
        "--max-backoff",
        type=float,
        default=RECONNECT.max_delay,
        metavar="SECONDS",
        help=f"longest wait between two connection attempts (default: {RECONNECT.max_delay:g})",
    )
    parser.add_argument(
        "--exit-after",
        type=float,
        metavar="SECONDS",
        help="stop by itself after this long (for demos, tests and the bench)",
    )
    parser.add_argument(
        "--pictures",
        type=Path,
        metavar="DIR",
        help="only write the README's LED pictures (full, half, alarm, failure) into DIR",
    )


def run(args: argparse.Namespace) -> int:
    from device.app import PiPlan  # noqa: PLC0415
    from device.app import run as run_pi  # noqa: PLC0415
    from swan.commands.device_endpoint import ConnectOptions, resolve  # noqa: PLC0415

    if args.pictures is not None:
        from device.pictures import write_pictures  # noqa: PLC0415

        for path in write_pictures(args.pictures):
            print(path)
        return 0
    if args.max_backoff < 1:
        raise InvalidSettingError("--max-backoff", args.max_backoff, "must be at least 1 second")
    state_dir = args.state_dir or Settings.from_env().state_dir
    options = ConnectOptions(
        thing=args.thing,
        endpoint=args.endpoint,
        port=args.port,
        ca_file=args.ca,
        cert_file=args.cert,
        key_file=args.key,
    )
    endpoint = resolve(options, os.environ, state_dir, certs_dir(args))
    plan = PiPlan(
        endpoint=endpoint,
        matrix=_matrix(args.matrix),
        frames=args.frames,
        keys=not args.no_keys,
        backoff=replace(RECONNECT, max_delay=args.max_backoff),
        exit_after=args.exit_after,
    )
    return run_pi(plan, lambda line: print(line, file=sys.stderr, flush=True))


def _matrix(choice: str) -> MatrixName:
    from device.matrix import MATRICES  # noqa: PLC0415

    for name in MATRICES:
        if choice == name:
            return name
    try:
        import sense_hat  # noqa: F401, PLC0415
    except ImportError:
        return "terminal"
    return "sensehat"


COMMAND = Command(
    name="pi",
    help="run a Raspberry Pi client: the countdown on a Sense HAT (or a stand-in)",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
