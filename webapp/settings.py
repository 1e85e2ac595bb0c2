"""The web backend's settings, read once from the environment by the composition root.

Locally the backend is the thing `web`: mutual TLS to the device port with the certificate
the local CA issued for it (`swan up` passes the paths; by default they are looked up in
the state directory). The rule set decides whether the page shows the `>:` prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from swan.core.errors import InvalidSettingError
from swan.settings import Settings
from webapp.view import HISTORY_LIMIT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.core.countdown import RuleSet

WEB_THING: Final = "web"
DEFAULT_DEVICE_PORT: Final = 8883
MAX_PORT: Final = 65535


@dataclass(frozen=True)
class MqttLogin:
    """Where and as whom the backend connects (local: mTLS as the thing `web`)."""

    host: str
    port: int
    client_id: str
    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class WebSettings:
    mqtt: MqttLogin
    rule_set: RuleSet
    period_seconds: float
    history_limit: int = HISTORY_LIMIT
    history_db: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], cwd: Path | None = None) -> WebSettings:
        """Read `SWAN_WEB_MQTT_HOST`, `SWAN_WEB_MQTT_PORT` (default `SWAN_DEVICE_PORT`),
        `SWAN_WEB_CLIENT_ID`, `SWAN_WEB_CA_FILE`, `SWAN_WEB_CERT_FILE`, `SWAN_WEB_KEY_FILE`
        (default: the state directory's certificates for the thing `web`), `SWAN_RULES`,
        `SWAN_PERIOD_SECONDS` (shown until the first push), `SWAN_WEB_HISTORY` and
        `SWAN_HISTORY_DB` (the local push history, read for the list of recent pushes)."""
        base = Settings.from_env(env, cwd)
        certs = base.state_dir / "certs"
        client_id = env.get("SWAN_WEB_CLIENT_ID", WEB_THING)
        port = env.get("SWAN_WEB_MQTT_PORT") or env.get("SWAN_DEVICE_PORT")
        login = MqttLogin(
            host=env.get("SWAN_WEB_MQTT_HOST", "localhost"),
            port=_port("SWAN_WEB_MQTT_PORT", port) if port else DEFAULT_DEVICE_PORT,
            client_id=client_id,
            ca_file=Path(env.get("SWAN_WEB_CA_FILE", certs / "ca.pem")),
            cert_file=Path(env.get("SWAN_WEB_CERT_FILE", certs / "devices" / f"{client_id}.pem")),
            key_file=Path(env.get("SWAN_WEB_KEY_FILE", certs / "devices" / f"{client_id}.key")),
        )
        limit = env.get("SWAN_WEB_HISTORY", str(HISTORY_LIMIT))
        if not limit.isdigit() or not 1 <= int(limit) <= 100:  # noqa: PLR2004
            raise InvalidSettingError("SWAN_WEB_HISTORY", limit, "must be 1 to 100")
        return cls(
            mqtt=login,
            rule_set=base.rules.rule_set,
            period_seconds=base.rules.period_seconds,
            history_limit=int(limit),
            history_db=Path(env["SWAN_HISTORY_DB"]) if env.get("SWAN_HISTORY_DB") else None,
        )


def _port(name: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PORT:
        raise InvalidSettingError(name, raw, "must be a port number")
    return int(raw)
