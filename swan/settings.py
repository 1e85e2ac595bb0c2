"""Settings from the environment and the command line, parsed once per process.

The core never reads the environment; entrypoints build a `Settings` and pass values in.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from swan.core.countdown import DEFAULT_PERIOD_SECONDS, RULE_SETS, Rules
from swan.core.errors import InvalidSettingError

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_STATE_DIR = ".swan"
# Certificate material (the CA, the server's, devices' and the verification certificate) lives
# apart from the state: certs/ is where a user copies a Pi's or a button's certificate from.
DEFAULT_CERTS_DIR = "certs"
# Cognito's enhanced flow hands out credentials for an hour (GetCredentialsForIdentity).
MAX_CREDENTIALS_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    """Where local state lives and how the countdown behaves."""

    state_dir: Path
    rules: Rules
    certs_dir: Path = Path(DEFAULT_CERTS_DIR)
    # How long the local Cognito's credentials live: AWS's hour; shorter to watch expiry.
    cognito_credentials_seconds: int = 3600

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Settings:
        """Read `SWAN_STATE_DIR`, `SWAN_CERTS_DIR`, `SWAN_PERIOD_SECONDS`, `SWAN_RULES`,
        `SWAN_MIN_PUSH_INTERVAL`, `SWAN_SHADOW_WRITES_PER_SECOND` and
        `SWAN_COGNITO_CREDENTIALS_SECONDS` (whole seconds, 1 to 3600)."""
        env = os.environ if environ is None else environ
        base = Path.cwd() if cwd is None else cwd
        state_dir = base / env.get("SWAN_STATE_DIR", DEFAULT_STATE_DIR)
        certs_dir = base / env.get("SWAN_CERTS_DIR", DEFAULT_CERTS_DIR)
        period = _seconds(env, "SWAN_PERIOD_SECONDS", DEFAULT_PERIOD_SECONDS)
        rule_set = env.get("SWAN_RULES", "anytime")
        if rule_set not in RULE_SETS:
            raise InvalidSettingError("SWAN_RULES", rule_set, f"must be one of {RULE_SETS}")
        rules = replace(
            Rules.for_period(period, rule_set),
            min_push_interval=_seconds(
                env, "SWAN_MIN_PUSH_INTERVAL", Rules.min_push_interval, zero=True
            ),
            shadow_writes_per_second=_seconds(
                env, "SWAN_SHADOW_WRITES_PER_SECOND", Rules.shadow_writes_per_second
            ),
        )
        lifetime = _seconds(env, "SWAN_COGNITO_CREDENTIALS_SECONDS", 3600)
        if lifetime != int(lifetime) or lifetime > MAX_CREDENTIALS_SECONDS:
            raise InvalidSettingError(
                "SWAN_COGNITO_CREDENTIALS_SECONDS",
                env["SWAN_COGNITO_CREDENTIALS_SECONDS"],
                f"must be whole seconds, at most {MAX_CREDENTIALS_SECONDS}",
            )
        return cls(
            state_dir=state_dir.resolve(),
            rules=rules,
            certs_dir=certs_dir.resolve(),
            cognito_credentials_seconds=int(lifetime),
        )


def _seconds(env: Mapping[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise InvalidSettingError(name, raw, "must be a number of seconds") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise InvalidSettingError(name, raw, "must be 0 or more" if zero else "must be positive")
    return value
