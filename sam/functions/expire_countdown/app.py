"""Lambda: run by EventBridge Scheduler at the deadline; marks the system failure, once.

See swan.handlers.expire.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from swan.handlers.expire import handle_expiry
from swan.handlers.wiring import ports_from_env

logger = Logger()
ports = ports_from_env(os.environ)  # once per cold start


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = handle_expiry(event, ports)
    logger.info("expiry handled", extra={"outcome": outcome})
    return outcome
