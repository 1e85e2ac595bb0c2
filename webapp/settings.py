"""The web backend's settings, read once from the environment by the composition root.

Locally (`SWAN_WEB_MODE=local`, the default) the backend is the thing `web`: mutual TLS to
the device port with the certificate the local CA issued for it (`swan up` passes the
paths; by default they are looked up in the state directory). On AWS (`SWAN_WEB_MODE=aws`)
it connects to the account's IoT endpoint over SigV4 websockets with Cognito
unauthenticated credentials from the stack's identity pool. The rule set decides whether
the page shows the `>:` prompt.
"""

from __future__ import annotations

import re
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
MODES: Final = ("local", "aws")
# AWS IoT's websockets listen on 443 (with TLS, as every websocket awscrt opens).
DEFAULT_WEBSOCKET_PORT: Final = 443
# An identity pool id: its region, a colon, a GUID.
POOL_ID: Final = re.compile(r"(?P<region>[a-z]{2}(-[a-z]+)+-\d+):[0-9a-f-]{36}")


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
class CognitoLogin:
    """Where and how the backend connects on AWS: MQTT over websockets to `endpoint`, signed
    (SigV4) with the credentials of an unauthenticated identity of `identity_pool_id`, as
    that identity (boto3 finds Cognito itself; `AWS_ENDPOINT_URL_COGNITO_IDENTITY` points
    it at the local one)."""

    endpoint: str
    region: str
    identity_pool_id: str
    port: int = DEFAULT_WEBSOCKET_PORT
    # None: the system's trust store (AWS's endpoints); a file: a private CA (tests).
    ca_file: Path | None = None


@dataclass(frozen=True)
class WebSettings:
    mqtt: MqttLogin | CognitoLogin
    rule_set: RuleSet
    period_seconds: float
    history_limit: int = HISTORY_LIMIT
    history_db: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], cwd: Path | None = None) -> WebSettings:
        """Read `SWAN_WEB_MODE` and the login of that mode (see `_local_login` and
        `_cognito_login`), `SWAN_RULES`, `SWAN_PERIOD_SECONDS` (shown until the first
        push), `SWAN_WEB_HISTORY` and `SWAN_HISTORY_DB` (the local push history, read for
        the list of recent pushes)."""
        base = Settings.from_env(env, cwd)
        mode = env.get("SWAN_WEB_MODE", "local")
        if mode not in MODES:
            raise InvalidSettingError("SWAN_WEB_MODE", mode, f"must be one of {', '.join(MODES)}")
        login = _cognito_login(env) if mode == "aws" else _local_login(env, base.state_dir)
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


def _local_login(env: Mapping[str, str], state_dir: Path) -> MqttLogin:
    """`SWAN_WEB_MQTT_HOST`, `SWAN_WEB_MQTT_PORT` (default `SWAN_DEVICE_PORT`),
    `SWAN_WEB_CLIENT_ID`, `SWAN_WEB_CA_FILE`, `SWAN_WEB_CERT_FILE`, `SWAN_WEB_KEY_FILE`
    (default: the state directory's certificates for the thing `web`)."""
    certs = state_dir / "certs"
    client_id = env.get("SWAN_WEB_CLIENT_ID", WEB_THING)
    port = env.get("SWAN_WEB_MQTT_PORT") or env.get("SWAN_DEVICE_PORT")
    return MqttLogin(
        host=env.get("SWAN_WEB_MQTT_HOST", "localhost"),
        port=_port("SWAN_WEB_MQTT_PORT", port) if port else DEFAULT_DEVICE_PORT,
        client_id=client_id,
        ca_file=Path(env.get("SWAN_WEB_CA_FILE", certs / "ca.pem")),
        cert_file=Path(env.get("SWAN_WEB_CERT_FILE", certs / "devices" / f"{client_id}.pem")),
        key_file=Path(env.get("SWAN_WEB_KEY_FILE", certs / "devices" / f"{client_id}.key")),
    )


def _cognito_login(env: Mapping[str, str]) -> CognitoLogin:
    """`SWAN_IDENTITY_POOL_ID` and `SWAN_IOT_ENDPOINT` (required), the region (`AWS_REGION`,
    `AWS_DEFAULT_REGION`, else the pool id's), `SWAN_WEB_MQTT_PORT` (default 443) and
    `SWAN_WEB_CA_FILE` (default: the system's trust store)."""
    pool = env.get("SWAN_IDENTITY_POOL_ID", "")
    found = POOL_ID.fullmatch(pool)
    if found is None:
        raise InvalidSettingError(
            "SWAN_IDENTITY_POOL_ID", pool, "must be the identity pool id (region:GUID)"
        )
    endpoint = env.get("SWAN_IOT_ENDPOINT", "")
    if not endpoint or "/" in endpoint or ":" in endpoint:
        raise InvalidSettingError(
            "SWAN_IOT_ENDPOINT", endpoint, "must be the IoT data endpoint's host name"
        )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or found["region"]
    port = env.get("SWAN_WEB_MQTT_PORT")
    ca_file = env.get("SWAN_WEB_CA_FILE")
    return CognitoLogin(
        endpoint=endpoint,
        region=region,
        identity_pool_id=pool,
        port=_port("SWAN_WEB_MQTT_PORT", port) if port else DEFAULT_WEBSOCKET_PORT,
        ca_file=Path(ca_file) if ca_file else None,
    )


def _port(name: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PORT:
        raise InvalidSettingError(name, raw, "must be a port number")
    return int(raw)
