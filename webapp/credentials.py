"""Temporary AWS credentials as the old web backend held them.

Not part of the page (it signs in the browser: components/swan_link.jsx). Kept, with
`webapp.settings.CognitoLogin` and `webapp.sigv4`, only for the awscrt client that
tests/integration/test_mqtt_websocket.py connects through the gateway's WebSocket door
with; they go when that test has a client of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials and when they expire (epoch seconds); `fetched_at` is when
    they were fetched, by the same clock."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    fetched_at: float
