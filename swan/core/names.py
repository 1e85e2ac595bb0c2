"""The shapes of AWS IoT names, in one place (botocore's iot and iot-data models).

Thing names are checked here and only here (`check_thing_name`, raising
`InvalidThingNameError`): the registry, the control plane, the shadow service, topics, the
certificate code, the CLI and the device's settings all call it. AWS IoT's ThingName is 1 to
128 of `[a-zA-Z0-9:_-]` (botocore's iot and iot-data models;
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html). A device's
certificate adds a limit of its own (a common name holds at most 64 characters, RFC 5280):
swan.certs.folder.check_thing_name.
"""

from __future__ import annotations

import re
from typing import Final

from swan.core.errors import InvalidThingNameError

MAX_THING_NAME: Final = 128
THING_NAME_RULE: Final = (
    f"use 1 to {MAX_THING_NAME} letters, digits, ':', '_' or '-' (an AWS IoT thing name)"
)
THING_NAME_CHARACTERS: Final = "[a-zA-Z0-9:_-]"  # botocore's pattern is this, then `+`
THING_NAME: Final = re.compile(rf"{THING_NAME_CHARACTERS}{{1,{MAX_THING_NAME}}}")
SHADOW_NAME: Final = re.compile(r"[$a-zA-Z0-9:_-]{1,64}")
# botocore's PolicyName: `[\w+=,.@-]+`, 1-128, where `\w` is ASCII (Java's, not Python's).
POLICY_NAME: Final = re.compile(r"[a-zA-Z0-9_+=,.@-]{1,128}")
# An AWS IoT Button's device serial number (DSN), e.g. G030JF0553648RUH.
BUTTON_SERIAL: Final = re.compile(r"[a-zA-Z0-9]{1,64}")
# A certificate id is the SHA-256 of the certificate's DER bytes, in lowercase hex.
CERTIFICATE_ID: Final = re.compile(r"[0-9a-f]{64}")
# botocore's cognito-identity IdentityId: `[\w-]+:[0-9a-f-]+`, 1-55 (`<region>:<uuid>`).
COGNITO_IDENTITY_ID: Final = re.compile(r"(?=.{1,55}$)[a-zA-Z0-9_-]+:[0-9a-f-]+")


def check_thing_name(thing_name: str) -> str:
    """`thing_name`, if AWS IoT takes it as a thing name; else `InvalidThingNameError`."""
    if not THING_NAME.fullmatch(thing_name):
        raise InvalidThingNameError(thing_name, THING_NAME_RULE)
    return thing_name
