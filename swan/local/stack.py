"""The whole local system in one object: what `swan up` starts and the tests drive.

Mosquitto (a child process), then in this process: the shadow service (MQTT and the
iot-data HTTP API), the scheduler, the template's Lambda functions and the rules engine
that feeds them. Everything binds to loopback; state lives in the state directory.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, Self

from swan.adapters.clock import SystemClock
from swan.adapters.mqtt import Endpoint, connect
from swan.adapters.private_files import private_directory
from swan.certs.authority import certificate_id
from swan.certs.files import CertificateStore
from swan.core.errors import SwanError
from swan.core.port_numbers import parse_port
from swan.local.authorization import (
    role_documents,
    service_roles,
    statements_of,
    write_role_policies,
)
from swan.local.cognito import CREDENTIALS_SECONDS, CognitoIdentity, RequestQuotas
from swan.local.controlplane import ControlPlane
from swan.local.core.broker_limits import AWS_LIMITS, BrokerLimits
from swan.local.credentials import StackCredentials, function_roles, load_or_create
from swan.local.deployment import read_template
from swan.local.functions import FunctionHost
from swan.local.identity import DeviceIdentity
from swan.local.intrinsics import context_for, resolve
from swan.local.mosquitto import Account, BrokerPlan, Mosquitto, socket_path
from swan.local.policies import device_acl, identity_acl
from swan.local.ports import ensure_free, free_port
from swan.local.rules_engine import RulesEngine
from swan.local.scheduler import LocalScheduler
from swan.local.shadow_process import ShadowServiceProcess
from swan.local.signed import require_signature
from swan.local.sigv4 import iot_api, scheduler_api
from swan.local.template import load_template
from swan.local.web_door_process import WebDoorProcess
from swan.local.web_door_service import DoorProcessPlan
from swan.local.web_gateway import WebDoorPlan, mqtt_documents
from swan.local.webapp import PageBuild, PagePlan, WebPage, page_config

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from swan.adapters.mqtt import CrtTransport
    from swan.core.countdown import Rules
    from swan.local.deployment import Deployment
    from swan.local.intrinsics import Context

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE = REPOSITORY / "sam" / "template.yaml"
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/ExpirySchedulerRole"
"""The expiry schedule's role locally: every IAM role's ARN is `role/<LogicalId>`."""
EXPIRY_FUNCTION = "ExpireCountdownFunction"


# Cognito's own request rates for the account (swan.local.core.cognito.RequestQuotas).
AWS_COGNITO_QUOTAS: Final = RequestQuotas()
ANY_OTHER_PORT: Final[dict[str, int]] = {"cognito": 0, "mqtt_wss": 0, "mqtt_ws": 0}
"""With the first four ports given positionally: the others on any free port."""


@dataclass(frozen=True)
class LocalPorts:
    """Where the local system listens (0: any free port)."""

    device: int = 8883
    iot_data: int = 18443
    scheduler: int = 18444
    iot: int = 18445
    webapp: int = 3000
    cognito: int = 18446
    mqtt_wss: int = 18447  # MQTT over WebSocket, TLS (as AWS IoT serves it)
    mqtt_ws: int = 18448  # the same in plain text, for browsers (they cannot trust the local CA)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalPorts:
        """The `PORT_VARIABLES` that are set override the defaults (swan.core.port_numbers
        parses them; 0: any free port)."""
        values = {}
        for field_name, variable in PORT_VARIABLES.items():
            raw = env.get(variable)
            if raw is None:
                continue
            values[field_name] = parse_port(variable, raw, any_port=True)
        return cls(**values)


PORT_VARIABLES: Final = {
    "device": "SWAN_DEVICE_PORT",
    "iot": "SWAN_IOT_PORT",
    "webapp": "SWAN_WEB_PORT",
    "iot_data": "SWAN_IOT_DATA_PORT",
    "scheduler": "SWAN_SCHEDULER_PORT",
    "cognito": "SWAN_COGNITO_PORT",
    "mqtt_wss": "SWAN_MQTT_WSS_PORT",
    "mqtt_ws": "SWAN_MQTT_WS_PORT",
}
"""The environment variable that moves each of `LocalPorts`' ports (`LocalPorts.from_env`)."""


@dataclass(frozen=True)
class Endpoints:
    """What `swan up` prints and clients connect to."""

    device_mqtt: str
    iot_data: str
    iot: str
    scheduler: str
    state_dir: Path
    ca_file: Path
    web: str | None = None  # the page, when this stack runs the web app
    cognito: str | None = None  # Cognito Identity (GetId, GetCredentialsForIdentity)
    identity_pool_id: str | None = None  # the browsers' identity pool
    mqtt_wss: str | None = None  # MQTT over a SigV4-signed WebSocket, TLS
    mqtt_ws: str | None = None  # the same, plain, for a browser


class LocalStack:
    def __init__(  # noqa: PLR0913  (each is a setting of its own)
        self,
        state_dir: Path,
        rules: Rules,
        *,
        certs_dir: Path,
        ports: LocalPorts | None = None,
        template: Path = TEMPLATE,
        quiet_functions: bool = True,
        web: bool = False,
        broker_limits: BrokerLimits = AWS_LIMITS,
        cognito_credentials_seconds: int = CREDENTIALS_SECONDS,
        cognito_quotas: RequestQuotas = AWS_COGNITO_QUOTAS,
        page_build: PageBuild | None = None,
    ) -> None:
        """`certs_dir`: where the CA, the server's and devices' certificates live.
        `cognito_credentials_seconds`: how long the credentials the local Cognito issues
        live (AWS's hour; shorter to watch them expire). `cognito_quotas`: the account's
        request rates for Cognito (AWS's defaults; raised, as an account may ask AWS to, for
        the bench's crowds). `page_build`: where the web page's
        export is built and kept, and who hears a build's progress (default: quietly, in
        `<state>/webapp`)."""
        self.state_dir = state_dir
        self.cognito_credentials_seconds = cognito_credentials_seconds
        self.cognito_quotas = cognito_quotas
        self.broker_limits = broker_limits
        self.rules = rules
        self.ports = ports or LocalPorts()
        self.template = template
        self.quiet_functions = quiet_functions
        self.web = web
        self.webapp: WebPage | None = None
        self.page_build = page_build or PageBuild(state_dir / "webapp")
        # Chosen now: the local Cognito serves the page's origin (CORS) from its start.
        self.web_port = self.ports.webapp or free_port()
        self._region = ""  # the deployment's, once started
        self.certs = CertificateStore(certs_dir.resolve())
        self.clock = SystemClock()
        self._exit = ExitStack()
        self._running: Running | None = None
        self.credentials: StackCredentials | None = None  # issued on start

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

    def lost_child(self) -> str | None:
        """Which of the stack's child processes (Mosquitto, the shadow service, the WebSocket
        door) ended by itself while the stack runs, how, and where its log is; None while
        they all run."""
        running = self.running
        children = (running.broker.process, running.shadows.child, running.door.child)
        for child in filter(None, children):
            if (ended := child.ended()) is not None:
                return f"{child.name} {ended} (its log: {child.log_file})"
        return None

    def heal(self) -> None:
        """After a restart, let the expiry handler look once: it marks a failure that
        happened while the stack was down, or sets the alarm for the current deadline."""
        self.running.host.invoke(EXPIRY_FUNCTION, {"thing": "button"}).result(30)

    def endpoints(self) -> Endpoints:
        running = self.running
        return Endpoints(
            device_mqtt=f"mqtts://localhost:{running.identity.port}",
            iot_data=running.shadows.url,
            iot=running.controlplane.url,
            scheduler=running.scheduler.url,
            state_dir=self.state_dir,
            ca_file=self.certs.ca_files.certificate,
            web=self.webapp.url if self.webapp else None,
            cognito=running.cognito.url,
            identity_pool_id=next(iter(running.cognito.pool_ids.values()), None),
            mqtt_wss=running.door.url(),
            mqtt_ws=running.door.url(tls=False),
        )

    def _start(self) -> None:
        ensure_free(self._fixed_ports())  # before anything is written or started
        ensure_writable(self.state_dir)
        now = datetime.now(UTC)
        self.certs.ensure_server(now=now)
        self.certs.write_crl(now=now)
        # As `swan deploy` names the registered device CA: the register role may describe it.
        device_ca = certificate_id(self.certs.load_ca().certificate)
        parameters = self._parameters() | {"DeviceCaCertificateId": device_ca}
        template, deployment = local_deployment(self.template, parameters)
        roles = function_roles(template)
        keys = load_or_create(self.state_dir, roles.values())
        self.credentials = keys
        policies = role_documents(template, deployment.context)
        write_role_policies(self.state_dir, policies)  # the data plane's process reads them
        statements = statements_of(policies)
        services = service_roles(template, deployment.context, statements)
        region = deployment.context.region
        cognito = self._started(
            CognitoIdentity(
                self.state_dir,
                template,
                deployment.context,
                allowed_origins=self._page_origins(),
                credentials_seconds=self.cognito_credentials_seconds,
                quotas=self.cognito_quotas,
                port=self.ports.cognito,
            )
        )
        identity_roles = _identity_roles(cognito, policies)
        plan = broker_plan(self.state_dir, deployment, identity_roles)
        broker = self._started(Mosquitto(plan))
        transport = connect(_service_endpoint(plan, "swan-stack"))
        self._exit.callback(transport.close)
        identity = self._started(
            DeviceIdentity(
                registry_file=self.state_dir / "registry.db",
                certs=self.certs,
                deployment=deployment,
                broker=plan,
                host="127.0.0.1",
                port=self.ports.device,
                publish=transport.publish,
                clock=self.clock,
                limits=self.broker_limits,
            )
        )
        door = WebDoorProcess(
            DoorProcessPlan(
                WebDoorPlan(
                    "127.0.0.1",
                    self.ports.mqtt_ws,
                    self.ports.mqtt_wss,
                    self.certs.server_files.certificate,
                    self.certs.server_files.key,
                ),
                region=region,
                account=deployment.context.account_id,
                partition=deployment.context.partition,
                roles=identity_roles,
                upstream=plan.identity_socket,
                cognito_database=cognito.database_file,
                limits=self.broker_limits,
            ),
            plan_file=self.state_dir / "web-door.json",
            log_file=self.state_dir / "logs" / "web-door.log",
        )
        shadows = ShadowServiceProcess(
            database=self.state_dir / "shadows.db",
            broker=plan,
            http_port=self.ports.iot_data or free_port(),
            log_file=self.state_dir / "logs" / "shadow-service.log",
            credentials_dir=self.state_dir,
        )
        self._started_together(door, shadows)  # two interpreters starting side by side
        controlplane = ControlPlane(identity.registry, self.clock, port=self.ports.iot)
        controlplane.api.server.check = require_signature(
            iot_api(region), keys.lookup, roles=statements
        )
        self._started(controlplane)
        invoke = _Invoker()
        scheduler = LocalScheduler(
            self.state_dir / "scheduler.db",
            self.clock,
            invoke,
            port=self.ports.scheduler,
            roles=services,
        )
        scheduler.api.server.check = require_signature(
            scheduler_api(region), keys.lookup, roles=statements
        )
        self._started(scheduler)
        environment = self._environment(shadows.url, scheduler.url, controlplane.url)
        host = FunctionHost(
            deployment,
            template,
            self.template.parent,
            environment=environment,
            identities={function: keys.environment(role) for function, role in roles.items()},
        )
        self._exit.callback(host.close)
        invoke.host = host
        engine = self._started(RulesEngine(host, transport, services))
        self._running = Running(
            broker,
            transport,
            identity,
            controlplane,
            shadows,
            scheduler,
            host,
            engine,
            cognito,
            door,
        )
        self._region = region
        if self.web:  # last: its /swan-config.json names the endpoints above
            page = WebPage(PagePlan(self.page_config(), port=self.web_port), self.page_build)
            self.webapp = self._started(page)

    def page_config(self) -> dict[str, str]:
        """The web page's `/swan-config.json` for this stack: its region, the identity
        pool, the plain MQTT-over-WebSocket door (a browser cannot trust the local CA) and
        the local Cognito Identity."""
        endpoints = self.endpoints()
        return page_config(
            self._region,
            endpoints.identity_pool_id or "",
            endpoints.mqtt_ws or "",
            endpoints.cognito,
        )

    def _page_origins(self) -> tuple[str, ...]:
        """The web page's own origins: the only web page the local Cognito serves (CORS)."""
        port = self.web_port
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")

    def _fixed_ports(self) -> dict[str, int]:
        """The ports this stack asks for by number (0: any free port), by what they serve."""
        ports = {
            "devices, MQTT over mutual TLS": self.ports.device,
            "iot-data API": self.ports.iot_data,
            "iot control plane": self.ports.iot,
            "scheduler API": self.ports.scheduler,
            "Cognito Identity": self.ports.cognito,
            "MQTT over WebSocket (TLS)": self.ports.mqtt_wss,
            "MQTT over WebSocket": self.ports.mqtt_ws,
        }
        if self.web:
            ports["web page"] = self.ports.webapp
        return ports

    def _started(self, part: _Part) -> Any:
        part.start()
        self._exit.callback(part.stop)
        return part

    def _started_together(self, *children: _Child) -> None:
        """Child processes launched at once, then each waited for: their start-up (an
        interpreter, imports) overlaps instead of adding up."""
        for child in children:
            self._exit.callback(child.stop)
            child.launch()
        for child in children:
            child.start()

    # ------------------------------------------------------------ helpers

    def service_endpoint(self, client_id: str) -> Endpoint:
        """A login on the broker's internal listener, as the project's services use."""
        return _service_endpoint(self.running.broker.plan, client_id)

    def device_endpoint(self, thing: str) -> Endpoint:
        """An mTLS endpoint for `thing`, registered and active (provisioned, not through
        just-in-time registration): its certificate issued by the local CA if it has none."""
        return self.running.identity.provision(thing)

    def _parameters(self) -> dict[str, str]:
        return {
            "PeriodSeconds": f"{self.rules.period_seconds:g}",
            "RuleSet": self.rules.rule_set,
            "MinPushIntervalSeconds": f"{self.rules.min_push_interval:g}",
            "ShadowWritesPerSecond": f"{self.rules.shadow_writes_per_second:g}",
        }

    def _environment(self, iot_data_url: str, scheduler_url: str, iot_url: str) -> dict[str, str]:
        environment = {
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": iot_data_url,
            "AWS_ENDPOINT_URL_SCHEDULER": scheduler_url,
            "AWS_ENDPOINT_URL_IOT": iot_url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SWAN_HISTORY_DB": str(self.state_dir / "history.db"),
            # Powertools names the functions' logger after the service and takes it over
            # (its handler, its level). On AWS each function has a process of its own and
            # `swan` is right; here they share the stack's process, whose own loggers are
            # `swan.local.*` and must stay the stack's.
            "POWERTOOLS_SERVICE_NAME": "swan.handlers",
        }
        if self.quiet_functions:
            environment["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        return environment


def local_deployment(
    path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], Deployment]:
    """The template, and what it deploys resolved as a local stack: the given parameters,
    and the names AWS would give the resources the functions refer to (each IAM role's
    ARN, `role/<LogicalId>`, is `context_for`'s)."""
    template = load_template(path)
    draft = context_for(template, parameters=parameters)
    # The names AWS would give them: the resources' own name properties.
    names = _named(template, draft, "AWS::IoT::Policy", "PolicyName") | _named(
        template, draft, "AWS::IoT::Thing", "ThingName"
    )
    context = context_for(template, parameters=parameters, resources=names)
    return template, read_template(template, context)


def _named(
    template: Mapping[str, Any], context: Context, kind: str, name_property: str
) -> dict[str, str]:
    """The resources of type `kind`, by logical id, with the name their `name_property` gives."""
    return {
        logical_id: resolve(
            resource["Properties"][name_property],
            context,
            f"Resources.{logical_id}.Properties.{name_property}",
        )
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == kind
    }


def broker_plan(
    state_dir: Path,
    deployment: Deployment,
    identity_roles: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> BrokerPlan:
    """The broker of a local stack: unix sockets in the state directory, a fresh password
    for the services, the ACLs derived from the template's IoT policies (and, given
    `identity_roles`, the identity listener's from the identity pools' roles)."""
    documents = [document for docs in (identity_roles or {}).values() for document in docs]
    return BrokerPlan(
        directory=state_dir / "broker",
        internal_socket=socket_path(state_dir, "internal"),
        device_socket=socket_path(state_dir, "devices"),
        identity_socket=socket_path(state_dir, "identities"),
        service=Account("swan-services", secrets.token_urlsafe(24)),
        device_acl=device_acl(deployment),
        identity_acl=identity_acl(deployment, documents) if documents else "",
    )


def _identity_roles(
    cognito: CognitoIdentity, policies: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Each identity pool's unauthenticated role's MQTT statements (from the roles' resolved
    `policies`), by the role's name (what a session ARN of its credentials names)."""
    return {
        pool.unauthenticated_role.name: mqtt_documents(
            policies.get(pool.unauthenticated_role.logical_id, {})
        )
        for pool in cognito.pools.values()
        if pool.unauthenticated_role is not None
    }


class StateDirError(SwanError, OSError):
    def __init__(self, state_dir: Path, cause: OSError) -> None:
        self.state_dir = state_dir
        super().__init__(
            f"the state directory {state_dir} cannot be written ({cause.strerror or cause});"
            " choose another with --state-dir or SWAN_STATE_DIR"
        )


def ensure_writable(state_dir: Path) -> None:
    """Fail at once, and clearly, when the state directory cannot take files; better than
    half a stack started and a certificate half written."""
    probe = state_dir / f".write-test-{os.getpid()}"
    try:
        private_directory(state_dir)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise StateDirError(state_dir, error) from error


def _service_endpoint(plan: BrokerPlan, client_id: str) -> Endpoint:
    return Endpoint.local(
        plan.internal_socket, client_id, plan.service.username, plan.service.password
    )


class _Part(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Child(_Part, Protocol):
    """A part that is a child process: `launch` starts it, `start` waits until it is ready."""

    def launch(self) -> None: ...


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
    identity: DeviceIdentity
    controlplane: ControlPlane
    shadows: ShadowServiceProcess
    scheduler: LocalScheduler
    host: FunctionHost
    engine: RulesEngine
    cognito: CognitoIdentity
    door: WebDoorProcess
