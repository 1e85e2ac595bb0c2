"""The web app as a part of the local system: `reflex run` as a child process.

It runs in production mode on one loopback port (the frontend, built at start, and the
backend's websocket side by side), connects to the device port as the thing `web` with the
certificate the local CA issued for it, and logs to `<state>/logs/webapp.log`. Its whole
process group is stopped with it.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from swan.core.errors import SwanError
from swan.local.child import ChildFailedError, ChildProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from swan.adapters.mqtt import Endpoint
    from swan.core.countdown import Rules

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
BUN = Path("tools") / "node_modules" / ".bin" / "bun"
DEFAULT_PORT = 3000
START_TIMEOUT = 180.0
STOP_TIMEOUT = 10.0
GRACE = 3.0


class WebAppFailedError(SwanError, RuntimeError):
    def __init__(self, problem: str, log_file: Path, log_tail: str) -> None:
        self.log_file = log_file
        self.log_tail = log_tail
        tail = f":\n{log_tail}" if log_tail else ""
        super().__init__(f"the web app {problem} (log: {log_file}){tail}")


@dataclass(frozen=True)
class WebAppPlan:
    """What the web app is started with."""

    state_dir: Path
    mqtt: Endpoint
    rules: Rules
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    # Reflex's generated frontend (node modules included) and its state files; kept per
    # state directory, so only the first start installs the frontend's packages.
    reflex_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def work_dir(self) -> Path:
        return self.reflex_dir or self.state_dir / "webapp"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "webapp.log"


def reflex_environment(
    base: Mapping[str, str], work_dir: Path, repository: Path = REPOSITORY
) -> dict[str, str]:
    """`base` plus what every `reflex` command of the project needs: bun from tools/, no
    telemetry or version checks, and the generated files kept in `work_dir`."""
    env = dict(base)
    env.update(
        {
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_WEB_WORKDIR": str(work_dir / ".web"),
            "REFLEX_STATES_WORKDIR": str(work_dir / "states"),
        }
    )
    bun = repository / BUN
    if "REFLEX_BUN_PATH" not in env and bun.exists():
        env["REFLEX_BUN_PATH"] = str(bun)
    return env


def webapp_environment(
    plan: WebAppPlan, base: Mapping[str, str], repository: Path = REPOSITORY
) -> dict[str, str]:
    """The child's environment: `base` plus Reflex's and the backend's settings."""
    mqtt = plan.mqtt
    if mqtt.cert_file is None or mqtt.key_file is None or mqtt.ca_file is None:
        raise WebAppFailedError("needs a client certificate for the broker", plan.log_file, "")
    origin = f"http://{plan.host}:{plan.port}"
    env = reflex_environment(base, plan.work_dir, repository)
    env.update(
        {
            "REFLEX_API_URL": origin,
            "REFLEX_DEPLOY_URL": origin,
            "REFLEX_BACKEND_HOST": plan.host,
            "SWAN_STATE_DIR": str(plan.state_dir),
            "SWAN_PERIOD_SECONDS": f"{plan.rules.period_seconds:g}",
            "SWAN_RULES": plan.rules.rule_set,
            "SWAN_HISTORY_DB": str(plan.state_dir / "history.db"),
            "SWAN_WEB_MQTT_HOST": mqtt.host,
            "SWAN_WEB_MQTT_PORT": str(mqtt.port),
            "SWAN_WEB_CLIENT_ID": mqtt.client_id,
            "SWAN_WEB_CA_FILE": str(mqtt.ca_file),
            "SWAN_WEB_CERT_FILE": str(mqtt.cert_file),
            "SWAN_WEB_KEY_FILE": str(mqtt.key_file),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class WebApp:
    """`reflex run --env prod --single-port` for the local system; `start` waits until the
    page and the backend answer. It runs as a process group of its own (the CLI and its
    server workers), stopped as one."""

    def __init__(
        self,
        plan: WebAppPlan,
        *,
        repository: Path = REPOSITORY,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.plan = plan
        self.repository = repository
        self.start_timeout = start_timeout
        self.started_in: float | None = None
        self._child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return self.plan.url

    @property
    def pid(self) -> int | None:
        """The `reflex run` process; it leads the web app's process group."""
        return self._child.pid if self._child else None

    def start(self) -> None:
        plan = self.plan
        plan.work_dir.mkdir(parents=True, exist_ok=True)
        env = webapp_environment(plan, os.environ, self.repository)
        if "NPM_CONFIG_REGISTRY" not in env:
            # Reflex probes a second npm mirror unless told which registry to use.
            registry = _npm_registry()
            if registry:
                env["NPM_CONFIG_REGISTRY"] = registry
        command = [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(plan.port),
            "--backend-host",
            plan.host,
        ]
        child = ChildProcess(
            "the web app", command, plan.log_file, env=env, cwd=self.repository, process_group=True
        )
        began = time.monotonic()
        try:
            child.start(_answering(plan.host, plan.port), self.start_timeout)
        except ChildFailedError as error:
            raise WebAppFailedError(error.problem, plan.log_file, error.log_tail) from None
        self._child = child
        self.started_in = time.monotonic() - began
        log.info("web app %s up at %s in %.1f s", child.pid, plan.url, self.started_in)

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(STOP_TIMEOUT, GRACE)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _answering(host: str, port: int) -> Callable[[ChildProcess], bool]:
    """The web app is ready when the backend answers `/ping` and then the page `/`."""
    waiting = ["/ping", "/"]

    def ready(_child: ChildProcess) -> bool:
        while waiting and _answers(host, port, waiting[0]):
            waiting.pop(0)
        return not waiting

    return ready


def _answers(host: str, port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == http.HTTPStatus.OK
    except OSError:
        return False
    finally:
        connection.close()


def _npm_registry() -> str | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603  (npm, found on PATH, reading its own config)
            [npm, "config", "get", "registry"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None
