"""`swan press`: an AWS IoT Button click, exactly as the hardware sends it, over mutual TLS."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from swan.commands import Command, certs_dir
from swan.core.codecs import ButtonClick
from swan.core.countdown import CLICK_TYPES
from swan.core.errors import InvalidPayloadError
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

DEFAULT_SERIAL = "G030JF0553648RUH"
CONFIRM_TIMEOUT = 5.0

DESCRIPTION = f"""\
Press a (virtual) AWS IoT Button: publish the button's own payload
  {{"serialNumber": "...", "clickType": "SINGLE|DOUBLE|LONG", "batteryVoltage": "1650mV"}}
on iotbutton/<serial>, over MQTT with mutual TLS, with the button's own certificate (issued
by the local CA on first use), to the local system `swan up` runs. A new button is
registered just in time, as on AWS: its first connection is refused, the register_device
handler activates its certificate, and the retry gets in. Then wait for the button shadow
to show the push.

The same click with mosquitto_pub:
  mosquitto_pub --cafile certs/ca.pem --cert certs/devices/{DEFAULT_SERIAL}.pem \\
    --key certs/devices/{DEFAULT_SERIAL}.key -h localhost -p 8883 -q 1 \\
    -i {DEFAULT_SERIAL} -t iotbutton/{DEFAULT_SERIAL} \\
    -m '{{"serialNumber": "{DEFAULT_SERIAL}", "clickType": "SINGLE", "batteryVoltage": "1650mV"}}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--serial",
        default=DEFAULT_SERIAL,
        help=f"the button's serial number, its thing name (default: {DEFAULT_SERIAL})",
    )
    parser.add_argument(
        "--click", choices=CLICK_TYPES, default="SINGLE", help="the click type (default: SINGLE)"
    )
    parser.add_argument(
        "--battery",
        type=int,
        default=1650,
        metavar="MV",
        help="battery voltage in millivolts (default: 1650)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for the shadow to show the push"
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=6,
        metavar="N",
        help="connection attempts, with backoff, before giving up (default: 6)",
    )


def run(args: argparse.Namespace) -> int:
    from device.button import press  # noqa: PLC0415
    from swan.commands.device_endpoint import ConnectOptions, resolve  # noqa: PLC0415

    state_dir = args.state_dir or Settings.from_env().state_dir
    click = _click(args)
    # The running local stack's device port and CA, a certificate of its own issued by it
    # (the environment's AWS endpoint is the Pi's business, not a virtual button's).
    endpoint = resolve(ConnectOptions(thing=click.serial_number), {}, state_dir, certs_dir(args))

    def registering(attempt: int, error: Exception) -> None:
        if attempt == 1:
            print(
                f"{click.serial_number} is new here: registering it just in time"
                f" (the first connection is refused, as on AWS) ...",
                file=sys.stderr,
            )
        else:
            print(f"  still waiting ({error})", file=sys.stderr)

    pressed = press(
        endpoint,
        click,
        attempts=args.attempts,
        confirm_within=None if args.no_wait else CONFIRM_TIMEOUT,
        on_retry=registering,
    )
    print(f"pressed: {pressed.payload} -> {pressed.topic}")
    if args.no_wait:
        return 0
    if pressed.reported is None:
        print(
            "the button shadow did not change within 5 s: a click within the minimum push"
            " interval (SWAN_MIN_PUSH_INTERVAL) of the button's last one is refused, and a"
            " button hears no answer; see `swan status`",
            file=sys.stderr,
        )
        return 1
    print(f"the countdown restarted: {pressed.reported.get('pushes')} pushes so far")
    return 0


def _click(args: argparse.Namespace) -> ButtonClick:
    candidate = {
        "serialNumber": args.serial,
        "clickType": args.click,
        "batteryVoltage": f"{args.battery}mV",
    }
    try:
        return ButtonClick.from_payload(candidate)
    except InvalidPayloadError as error:
        raise InvalidPayloadError("option", "--serial/--battery", error.problem) from None


COMMAND = Command(
    name="press",
    help="press a virtual AWS IoT Button (MQTT over mutual TLS, the hardware's payload)",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
