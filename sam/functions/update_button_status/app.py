"""Lambda: AWS IoT Button clicks (`iotbutton/+`) and push requests (`swan/push/+`).

Parses, lets the core decide, writes the button shadow; see swan.handlers.push.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from swan.handlers.push import handle_event
from swan.handlers.wiring import ports_from_env

logger = Logger()
ports = ports_from_env(os.environ)  # once per cold start


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = handle_event(event, ports)
    logger.info("push handled", extra={"outcome": outcome, "topic": event.get("topic")})
    return outcome
