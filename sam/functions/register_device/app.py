"""Lambda: JITR events (`$aws/events/certificates/registered/+`) -> an activated device.

Checks the new certificate, creates its thing, attaches the device policy and the thing,
then activates it; see swan.handlers.register.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from swan.handlers.register import handle_registration
from swan.handlers.wiring import registration_ports_from_env

logger = Logger()
ports = registration_ports_from_env(os.environ)  # once per cold start


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = handle_registration(event, ports)
    logger.info(
        "registration handled",
        extra={"outcome": outcome, "certificateId": event.get("certificateId")},
    )
    return outcome
