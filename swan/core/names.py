"""The shapes of AWS IoT names, in one place (botocore's iot and iot-data models)."""

from __future__ import annotations

import re
from typing import Final

THING_NAME: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
SHADOW_NAME: Final = re.compile(r"[$a-zA-Z0-9:_-]{1,64}")
# botocore's PolicyName: `[\w+=,.@-]+`, 1-128, where `\w` is ASCII (Java's, not Python's).
POLICY_NAME: Final = re.compile(r"[a-zA-Z0-9_+=,.@-]{1,128}")
# An AWS IoT Button's device serial number (DSN), e.g. G030JF0553648RUH.
BUTTON_SERIAL: Final = re.compile(r"[a-zA-Z0-9]{1,64}")
# A certificate id is the SHA-256 of the certificate's DER bytes, in lowercase hex.
CERTIFICATE_ID: Final = re.compile(r"[0-9a-f]{64}")
# botocore's cognito-identity IdentityId: `[\w-]+:[0-9a-f-]+`, 1-55 (`<region>:<uuid>`).
COGNITO_IDENTITY_ID: Final = re.compile(r"(?=.{1,55}$)[a-zA-Z0-9_-]+:[0-9a-f-]+")
