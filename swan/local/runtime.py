"""`<state>/stack.json`: how the commands find the local system `swan up` is running."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from swan.adapters.private_files import open_private
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from pathlib import Path

FILE = "stack.json"


class StackNotRunningError(SwanError, RuntimeError):
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        super().__init__(f"the local system is not running for {state_dir}; start it with: swan up")


class StackAlreadyRunningError(SwanError, RuntimeError):
    def __init__(self, state_dir: Path, pid: int) -> None:
        super().__init__(f"swan up is already running for {state_dir} (pid {pid})")


@dataclass(frozen=True)
class StackInfo:
    pid: int
    device_host: str
    device_port: int
    iot_data_url: str
    scheduler_url: str
    ca_file: str
    certs_dir: str = ""  # where the stack's certificates live: the CA, devices' own
    iot_url: str = ""
    cognito_url: str = ""  # the local Cognito Identity (GetId, GetCredentialsForIdentity)
    identity_pool_id: str = ""  # the browsers' identity pool
    mqtt_wss_url: str = ""  # MQTT over a SigV4-signed WebSocket (TLS)
    mqtt_ws_url: str = ""  # the same, plain, for a browser

    def write(self, state_dir: Path) -> None:
        path = state_dir / FILE
        temporary = path.with_suffix(".tmp")
        with os.fdopen(open_private(temporary, os.O_WRONLY | os.O_TRUNC), "w") as out:
            out.write(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)

    @classmethod
    def read(cls, state_dir: Path) -> StackInfo:
        """The running stack's info; raises StackNotRunningError if there is none alive."""
        try:
            info = cls(**json.loads((state_dir / FILE).read_text()))
        except (OSError, ValueError, TypeError):
            raise StackNotRunningError(state_dir) from None
        if not _alive(info.pid):
            raise StackNotRunningError(state_dir)
        return info

    @staticmethod
    def clear(state_dir: Path) -> None:
        (state_dir / FILE).unlink(missing_ok=True)


def ensure_not_running(state_dir: Path) -> None:
    try:
        info = StackInfo.read(state_dir)
    except StackNotRunningError:
        return
    raise StackAlreadyRunningError(state_dir, info.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
