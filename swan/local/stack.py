"""The whole local system in one object: what `swan up` starts and the tests drive.

Mosquitto (a child process), then in this process: the shadow service (MQTT and the
iot-data HTTP API), the scheduler, the template's Lambda functions and the rules engine
that feeds them. Everything binds to loopback; state lives in the state directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from swan.adapters.clock import SystemClock
from swan.adapters.mqtt import Endpoint, connect
from swan.certs.files import CertificateStore
from swan.core.errors import InvalidSettingError, SwanError
from swan.local.dataplane import DataPlane
from swan.local.functions import FunctionHost
from swan.local.mosquitto import Account, BrokerPlan, Mosquitto
from swan.local.rules_engine import RulesEngine
from swan.local.scheduler import LocalScheduler
from swan.local.shadow_service import ShadowService
from swan.local.shadow_store import SqliteShadowStore
from swan.local.template import context_for, load_template, read_template

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.adapters.mqtt import CrtTransport
    from swan.core.countdown import Rules

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "sam" / "template.yaml"
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/swan-local-expiry"
EXPIRY_FUNCTION = "ExpireCountdownFunction"
MAX_PORT = 65535
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class LocalPorts:
    """Where the local system listens (0: any free port)."""

    device: int = 8883
    web: int = 18831
    iot_data: int = 18443
    scheduler: int = 18444

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalPorts:
        """`SWAN_DEVICE_PORT`, `SWAN_WEB_BROKER_PORT`, `SWAN_IOT_DATA_PORT` and
        `SWAN_SCHEDULER_PORT` override the defaults."""
        names = {
            "device": "SWAN_DEVICE_PORT",
            "web": "SWAN_WEB_BROKER_PORT",
            "iot_data": "SWAN_IOT_DATA_PORT",
            "scheduler": "SWAN_SCHEDULER_PORT",
        }
        values = {}
        for field_name, variable in names.items():
            raw = env.get(variable)
            if raw is None:
                continue
            if not raw.isdigit() or not 0 <= int(raw) <= MAX_PORT:
                raise InvalidSettingError(variable, raw, "must be a port number (0 = any)")
            values[field_name] = int(raw)
        return cls(**values)


@dataclass(frozen=True)
class Endpoints:
    """What `swan up` prints and clients connect to."""

    device_mqtt: str
    iot_data: str
    scheduler: str
    state_dir: Path
    ca_file: Path


class LocalStack:
    def __init__(
        self,
        state_dir: Path,
        rules: Rules,
        *,
        ports: LocalPorts | None = None,
        template: Path = TEMPLATE,
        quiet_functions: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.rules = rules
        self.ports = ports or LocalPorts()
        self.template = template
        self.quiet_functions = quiet_functions
        self.certs = CertificateStore.in_state_dir(state_dir)
        self.clock = SystemClock()
        self._exit = ExitStack()
        self._running: Running | None = None

    @property
    def running(self) -> Running:
        if self._running is None:
            raise StackNotRunningError
        return self._running

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Endpoints:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.endpoints()

    def stop(self) -> None:
        self._running = None
        self._exit.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def heal(self) -> None:
        """After a restart, let the expiry handler look once: it marks a failure that
        happened while the stack was down, or sets the alarm for the current deadline."""
        self.running.host.invoke(EXPIRY_FUNCTION, {"thing": "button"}).result(30)

    def endpoints(self) -> Endpoints:
        running = self.running
        return Endpoints(
            device_mqtt=f"mqtts://localhost:{running.broker.plan.device_port}",
            iot_data=running.dataplane.url,
            scheduler=running.scheduler.url,
            state_dir=self.state_dir,
            ca_file=self.certs.ca_files.certificate,
        )

    def _start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        server = self.certs.ensure_server(now=now)
        self.certs.write_crl(now=now)
        plan = BrokerPlan(
            directory=self.state_dir / "broker",
            device_port=self.ports.device,
            internal_socket=internal_socket(self.state_dir),
            web_port=self.ports.web,
            ca_file=self.certs.ca_files.certificate,
            cert_file=server.files.certificate,
            key_file=server.files.key,
            service=Account("swan-services", secrets.token_urlsafe(24)),
            web=Account("swan-web", secrets.token_urlsafe(24)),
        )
        broker = self._started(Mosquitto(plan))
        transport = connect(_service_endpoint(plan, "swan-stack"))
        self._exit.callback(transport.close)
        store = SqliteShadowStore(self.state_dir / "shadows.db")
        self._exit.callback(store.close)
        shadows = self._started(ShadowService(store, transport, self.clock))
        dataplane = self._started(DataPlane(shadows, transport, port=self.ports.iot_data))
        invoke = _Invoker()
        scheduler = self._started(
            LocalScheduler(
                self.state_dir / "scheduler.db", self.clock, invoke, port=self.ports.scheduler
            )
        )
        template = load_template(self.template)
        context = context_for(
            template,
            parameters=self._parameters(),
            attributes={"ExpirySchedulerRole.Arn": LOCAL_ROLE_ARN},
        )
        deployment = read_template(template, context)
        environment = self._environment(dataplane.url, scheduler.url)
        host = FunctionHost(deployment, template, self.template.parent, environment=environment)
        self._exit.callback(host.close)
        invoke.host = host
        engine = self._started(RulesEngine(host, transport))
        self._running = Running(broker, transport, shadows, dataplane, scheduler, host, engine)

    def _started(self, part: _Part) -> Any:
        part.start()
        self._exit.callback(part.stop)
        return part

    # ------------------------------------------------------------ helpers

    def service_endpoint(self, client_id: str) -> Endpoint:
        """A login on the broker's internal listener, as the project's services use."""
        return _service_endpoint(self.running.broker.plan, client_id)

    def device_endpoint(self, thing: str) -> Endpoint:
        """An mTLS endpoint for `thing`, issuing its certificate if it has none."""
        stored = self.certs.ensure_device(thing, now=datetime.now(UTC))
        return Endpoint(
            "localhost",
            self.running.broker.plan.device_port,
            thing,
            ca_file=self.certs.ca_files.certificate,
            cert_file=stored.files.certificate,
            key_file=stored.files.key,
        )

    def _parameters(self) -> dict[str, str]:
        return {
            "PeriodSeconds": f"{self.rules.period_seconds:g}",
            "RuleSet": self.rules.rule_set,
            "MinPushIntervalSeconds": f"{self.rules.min_push_interval:g}",
            "ShadowWritesPerSecond": f"{self.rules.shadow_writes_per_second:g}",
        }

    def _environment(self, iot_data_url: str, scheduler_url: str) -> dict[str, str]:
        environment = {
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": iot_data_url,
            "AWS_ENDPOINT_URL_SCHEDULER": scheduler_url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "SWAN_HISTORY_DB": str(self.state_dir / "history.db"),
        }
        if self.quiet_functions:
            environment["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        return environment


def _service_endpoint(plan: BrokerPlan, client_id: str) -> Endpoint:
    return Endpoint.local(
        plan.internal_socket, client_id, plan.service.username, plan.service.password
    )


def internal_socket(state_dir: Path) -> Path:
    """The broker's internal socket: in the state directory, unless that path is too long
    for a unix socket (about 100 bytes), then in a private temporary directory."""
    path = state_dir / "broker" / "internal.sock"
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(state_dir.resolve())).hexdigest()[:16]
    private = Path(tempfile.gettempdir()) / f"swan-{digest}"
    private.mkdir(mode=0o700, exist_ok=True)
    return private / "internal.sock"


class _Part(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Invoker:
    """The scheduler's way to the functions, which load after it starts."""

    host: FunctionHost | None = None

    def __call__(self, target_arn: str, event: Any) -> None:
        if self.host is None:
            raise StackNotRunningError
        self.host.invoke(target_arn, event)


class StackNotRunningError(SwanError, RuntimeError):
    def __init__(self) -> None:
        super().__init__("the local stack is not running")


@dataclass(frozen=True)
class Running:
    """The parts of a started stack."""

    broker: Mosquitto
    transport: CrtTransport
    shadows: ShadowService
    dataplane: DataPlane
    scheduler: LocalScheduler
    host: FunctionHost
    engine: RulesEngine
