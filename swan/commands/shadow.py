"""`swan shadow get|update|delete THING`: the local device shadows, as AWS's iot-data API."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from swan.commands import Command
from swan.core.errors import InvalidPayloadError
from swan.core.names import check_thing_name
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

DESCRIPTION = """\
Read, update or delete a device shadow of the local system, through the same iot-data
HTTP API boto3 uses (`aws iot-data get-thing-shadow` and friends). The button shadow is
written only by the push and expiry handlers; updating it by hand is possible here, as an
administrator could on AWS.

Examples:
  swan shadow get button
  swan shadow update pi-kitchen --payload '{"state": {"desired": {"brightness": 0.4}}}'
  swan shadow get pi-kitchen --name settings
  swan shadow delete pi-kitchen
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("get", "update", "delete"))
    parser.add_argument("thing", help="the thing name, e.g. button")
    parser.add_argument("--name", help="a named shadow (default: the classic shadow)")
    parser.add_argument(
        "--payload",
        metavar="JSON",
        help="the update request document; '-' reads it from standard input",
    )


def run(args: argparse.Namespace) -> int:
    from swan.local.client import admin_signer, call, shadow_url  # noqa: PLC0415
    from swan.local.runtime import StackInfo  # noqa: PLC0415

    check_thing_name(args.thing)  # a bad name is the user's to fix, before any request
    state_dir = args.state_dir or Settings.from_env().state_dir
    info = StackInfo.read(state_dir)
    url = shadow_url(info.iot_data_url, args.thing, args.name)
    signer = admin_signer(state_dir, "iot-data")
    if args.action == "update":
        body = _payload(args.payload)
        result = call("POST", url, body, signer=signer)
    elif args.payload is not None:
        raise InvalidPayloadError("option", "--payload", f"is only for update, not {args.action}")
    else:
        result = call("GET" if args.action == "get" else "DELETE", url, signer=signer)
    print(json.dumps(result, indent=2))
    return 0


def _payload(option: str | None) -> bytes:
    if option is None:
        raise InvalidPayloadError("option", "--payload", "update needs a request document")
    text = sys.stdin.read() if option == "-" else option
    try:
        json.loads(text)
    except ValueError as error:
        raise InvalidPayloadError("option", "--payload", f"not JSON ({error})") from None
    return text.encode()


COMMAND = Command(
    name="shadow",
    help="get, update or delete a device shadow (the local iot-data API)",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
