"""Where an awscrt client connects over a SigV4-signed WebSocket (`webapp.sigv4`).

Not part of the page (it reads `/swan-config.json`: webapp/README.md). Kept only for
tests/integration/test_mqtt_websocket.py (see `webapp.credentials`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

# AWS IoT's websockets listen on 443 (with TLS, as every websocket awscrt opens).
DEFAULT_WEBSOCKET_PORT: Final = 443


@dataclass(frozen=True)
class CognitoLogin:
    """MQTT over websockets to `endpoint`, signed (SigV4) with the credentials of an
    unauthenticated identity of `identity_pool_id`, as that identity."""

    endpoint: str
    region: str
    identity_pool_id: str
    port: int = DEFAULT_WEBSOCKET_PORT
    # None: the system's trust store (AWS's endpoints); a file: a private CA (tests).
    ca_file: Path | None = None
