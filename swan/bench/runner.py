"""The bench's composition root: a private local stack, the phases, their load processes.

The stack runs in a temporary state directory on free loopback ports (never the default
ones, so the bench can run beside `swan up`), with rules that do not rate-limit the
bench's own clicks; so does the direct-mTLS broker of gateway, for that phase only. Both are
stopped and the directory removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, get_args

from swan.bench import child, gateway
from swan.bench.direct import DirectBroker, DirectPlan
from swan.bench.jobs import (
    BrokerJob,
    CrowdJob,
    GatewayJob,
    Pages,
    PushJob,
    ShadowJob,
    ViewersJob,
    WebJob,
)
from swan.bench.loops import Load
from swan.bench.measured import Machine, Results
from swan.core.countdown import Rules
from swan.local.cognito import RequestQuotas
from swan.local.core.broker_limits import UNMETERED
from swan.local.intrinsics import LOCAL_REGION
from swan.local.ports import free_ports

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.adapters.mqtt import Endpoint
    from swan.bench.measured import CrowdFigures, ViewerFigures, WebFigures
    from swan.local.stack import LocalStack

Phase = Literal["broker", "shadow", "push", "gateway", "viewers", "web", "crowd"]
# Every phase on the private stack, in the order they run.
ALL_PHASES: Final[tuple[Phase, ...]] = get_args(Phase)
# The default, for a Plan and for `swan bench` alike: every phase but the crowd (only when
# named: about 2.5 minutes and 10,000 clients).
PHASES: Final[tuple[Phase, ...]] = tuple(phase for phase in ALL_PHASES if phase != "crowd")
# `swan bench web`: the pages beside the same pushes reaching MQTT viewers (devices); broker is
# the baseline of viewers's ratios, web has its own (direct subscribers).
WEB_PHASES: Final[tuple[Phase, ...]] = ("broker", "viewers", "web")
PORTS: Final = 4  # device, iot-data, scheduler, iot
# No rate limit on the bench's clicks; otherwise the rules `swan up` runs with.
BENCH_RULES: Final = Rules(min_push_interval=0)
# AWS's message broker limits but its two rates (100 publishes/s, 512 KiB/s per connection):
# gateway measures what the gateway costs, not AWS's quota.
BENCH_LIMITS: Final = UNMETERED
# Cognito's request quotas are adjustable: the bench's pages ask for identities by the
# thousand at once, as on an account that had them raised (25 GetId a second would make
# web's 1,000 pages wait 40 s before the first connects).
BENCH_COGNITO_QUOTAS: Final = RequestQuotas(get_id=100_000, get_credentials_for_identity=100_000)
# The clicks of push take turns among this many buttons (principals): at 20 clicks/s each
# button clicks every 250 ms, so concurrent handlers never race on one principal's history.
BUTTONS: Final = 5
# Descriptors of a process of the stack beyond its crowd clients' (its files, the services).
DESCRIPTOR_SPARE: Final = 1024
Logins = tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Plan:
    """What to measure and how hard; `quick` shortens every run (CI smoke tests)."""

    phases: tuple[Phase, ...] = PHASES
    quick: bool = False
    samples: int = 1000
    seconds: float = 5.0
    window: int = 100
    rate: float = 20.0
    push_seconds: float = 10.0
    timeout: float = 5.0
    clients: tuple[int, ...] = (200, 1000)  # the sizes of web: pages open at once
    web_pushes: int = 5
    viewers: tuple[int, ...] = (1000, 3000)  # the sizes of `viewers`: devices at once
    # Of viewers and crowd: their p99 is the slowest 1 % of every (viewer, push). With 5
    # pushes that was 150 deliveries of 3,000 viewers, mostly the slowest push's; each
    # push's tail moved from 76 to 144 ms direct, so one push set the ratio. With 20, a
    # tail of the pushes' tails (docs/performance.md, stop 28).
    viewer_pushes: int = 20
    viewer_quiet_seconds: float = 2.0  # a short idle spell: memory is what is read there
    crowd_devices: int = 5000  # `crowd`: devices through the gateway ...
    crowd_pages: int = 5000  # ... and pages through its WebSocket door, all at once
    quiet_seconds: float = 60.0  # web's idle spell: one keep-alive of every page

    @classmethod
    def defaults(cls, *, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True,
                samples=50,
                seconds=1.0,
                push_seconds=1.5,
                clients=(3, 6),
                web_pushes=1,
                viewers=(3, 6),
                viewer_pushes=2,
                viewer_quiet_seconds=0.5,
                crowd_devices=4,
                crowd_pages=4,
                quiet_seconds=0.5,
            )
        return cls()

    def with_options(self, **options: object) -> Plan:
        """This plan with the options that were given (None: keep the default)."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})  # type: ignore[arg-type]

    def settings(self) -> dict[str, object]:
        """The plan as plain JSON values, for the report."""
        return {
            **asdict(self),
            "phases": list(self.phases),
            "clients": list(self.clients),
            "viewers": list(self.viewers),
        }

    @property
    def load(self) -> Load:
        return Load(self.samples, self.seconds, self.window, self.timeout)


def run(plan: Plan, say: Callable[[str], None]) -> Results:
    """Start a private stack, measure the planned phases in order, stop it.

    Each phase's load runs in a child process of its own (`swan.bench.child`): this
    process hosts only the stack, and the bench's clients do not compete with it for the GIL.
    """
    from swan.local.collector import serving  # noqa: PLC0415
    from swan.local.stack import ANY_OTHER_PORT, LocalPorts, LocalStack  # noqa: PLC0415  (heavy imports)

    run_id = uuid.uuid4().hex[:8]
    if "crowd" in plan.phases:  # before the stack: its broker and its door inherit the limit
        allow_descriptors(crowd_descriptors(plan.crowd_devices, plan.crowd_pages), say)
    results = Results(machine=machine(), quick=plan.quick, settings=plan.settings())
    with ExitStack() as cleanup:
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="swan-bench-")))
        # The last one: gateway's direct broker.
        *stack_ports, direct_port = free_ports(PORTS + 1)
        ports = LocalPorts(*stack_ports, **ANY_OTHER_PORT)
        say(f"starting a private local stack in {state} ...")
        stack = cleanup.enter_context(
            LocalStack(
                state,
                BENCH_RULES,
                certs_dir=state / "certs",
                ports=ports,
                broker_limits=BENCH_LIMITS,
                cognito_quotas=BENCH_COGNITO_QUOTAS,
            )
        )

        cleanup.enter_context(serving())  # as `swan up` runs the stack: swan.local.collector

        def service(role: str) -> Endpoint:
            """A login on the internal listener, as the project's own services connect."""
            return stack.service_endpoint(f"bench-{role}-{run_id}")

        if "broker" in plan.phases:
            broker_job = BrokerJob(
                publisher=service("pub"),
                subscriber=service("sub"),
                topic=f"swan-bench/{run_id}",
                load=plan.load,
            )
            results = replace(results, broker=child.run(broker_job, say))
        if "shadow" in plan.phases:
            shadow_job = ShadowJob(
                client=service("shadow-pub"),
                listener=service("shadow-sub"),
                thing=f"bench-{run_id}",
                load=plan.load,
            )
            results = replace(results, shadow=child.run(shadow_job, say))
        if "push" in plan.phases:
            # Device logins: mutual TLS with a certificate issued here for each button.
            serials = [f"BENCH{run_id.upper()}{n}" for n in range(BUTTONS)]
            push_job = PushJob(
                buttons=tuple((serial, stack.device_endpoint(serial)) for serial in serials),
                watcher=service("watch"),
                rate=plan.rate,
                seconds=plan.push_seconds,
                timeout=plan.timeout,
            )
            results = replace(results, push=child.run(push_job, say))
        if "gateway" in plan.phases:
            # One device, provisioned in the stack's registry; the same login (certificate,
            # client id) connects to the direct broker, which trusts the same CA.
            device = stack.device_endpoint(f"bench-gateway-{run_id}")
            topic = f"swan-bench/{run_id}/gateway"
            gateway.allow_publish(stack.running.identity.registry, device.client_id, topic)
            direct_plan = DirectPlan(
                directory=state / "direct-mtls",
                port=direct_port,
                ca_file=stack.certs.ca_files.certificate,
                cert_file=stack.certs.server_files.certificate,
                key_file=stack.certs.server_files.key,
            )
            say(f"starting a direct mTLS Mosquitto on port {direct_port} ...")
            with DirectBroker(direct_plan):
                gateway_job = GatewayJob(
                    direct=replace(device, port=direct_port),
                    gateway=device,
                    topic=topic,
                    load=plan.load,
                )
                results = replace(results, gateway=child.run(gateway_job, say))
        if "viewers" in plan.phases:
            results = replace(
                results, viewers=_viewers_phase(plan, stack, run_id, direct_port, state, say)
            )
        if "web" in plan.phases:
            results = replace(results, web=_web_phase(plan, stack, run_id, say))
        if "crowd" in plan.phases:
            crowd = _crowd_phase(plan, stack, run_id, direct_port, state, say)
            results = replace(results, crowd=crowd)
        say("stopping the private local stack ...")
    return results


def _page_side(stack: LocalStack) -> tuple[str, str, str, int, int]:
    """What pages need of a running stack: its WebSocket door (plain), its Cognito Identity
    and identity pool; and its broker's pid and its door's."""
    endpoints = stack.endpoints()
    broker_pid = stack.running.broker.pid
    door_pid = stack.running.door.pid
    if (
        endpoints.mqtt_ws is None
        or endpoints.cognito is None
        or endpoints.identity_pool_id is None
        or broker_pid is None
        or door_pid is None
    ):
        raise AssertionError  # unreachable: a running stack serves them all
    return endpoints.mqtt_ws, endpoints.cognito, endpoints.identity_pool_id, broker_pid, door_pid


def _web_phase(
    plan: Plan, stack: LocalStack, run_id: str, say: Callable[[str], None]
) -> WebFigures:
    """web: pages through the stack's own Cognito Identity and WebSocket door (what `swan up`
    serves the static page with), against direct subscribers of its broker; an IoT Button
    pushes."""
    ws_url, cognito, pool_id, broker_pid, door_pid = _page_side(stack)
    serial = f"BENCH{run_id.upper()}WEB"
    job = WebJob(
        button=(serial, stack.device_endpoint(serial)),
        direct=stack.service_endpoint(f"bench-direct-{run_id}"),
        ws_url=ws_url,
        cognito=cognito,
        pool_id=pool_id,
        region=LOCAL_REGION,
        sizes=plan.clients,
        pushes=plan.web_pushes,
        timeout=plan.timeout,
        quiet_seconds=plan.quiet_seconds,
        front_pids=(os.getpid(), door_pid),
        broker_pid=broker_pid,
    )
    return child.run(job, say)


def _logins(stack: LocalStack, prefix: str, count: int, say: Callable[[str], None]) -> Logins:
    """`count` devices provisioned in the stack's registry, each its own thing and
    certificate, as (client id, certificate file, key file)."""
    say(f"issuing certificates for {count} devices ...")
    logins = []
    for n in range(count):
        endpoint = stack.device_endpoint(f"{prefix}-{n}")
        if endpoint.cert_file is None or endpoint.key_file is None:
            raise AssertionError  # unreachable: a device endpoint has its files
        logins.append((endpoint.client_id, str(endpoint.cert_file), str(endpoint.key_file)))
    return tuple(logins)


def _viewers_phase(
    plan: Plan,
    stack: LocalStack,
    run_id: str,
    direct_port: int,
    state: Path,
    say: Callable[[str], None],
) -> ViewerFigures:
    """`viewers`: devices on a mutual-TLS Mosquitto of their own (fed by a relay from the
    stack's broker), then as many through the gateway, at each size."""
    broker_pid = stack.running.broker.pid
    if broker_pid is None:
        raise AssertionError  # unreachable: a running stack's broker has a pid
    serial = f"BENCH{run_id.upper()}VIEW"
    button = (serial, stack.device_endpoint(serial))
    relay = stack.device_endpoint(f"bench-relay-{run_id}")
    logins = _logins(stack, f"bench-viewer-{run_id}", max(plan.viewers), say)
    say(f"starting a direct mTLS Mosquitto on port {direct_port} ...")
    with DirectBroker(_direct_plan(stack, state / "direct-viewers", direct_port)) as direct:
        if direct.pid is None:
            raise AssertionError  # unreachable: a started broker has a pid
        job = ViewersJob(
            button=button,
            relay_source=stack.service_endpoint(f"bench-relay-{run_id}"),
            relay_sink=replace(relay, port=direct_port),
            direct=(relay.host, direct_port),
            gateway=(relay.host, relay.port),
            ca_file=str(stack.certs.ca_files.certificate),
            logins=logins,
            sizes=plan.viewers,
            pushes=plan.viewer_pushes,
            timeout=plan.timeout,
            quiet_seconds=plan.viewer_quiet_seconds,
            pids=(os.getpid(), broker_pid, direct.pid),
        )
        return child.run(job, say)


def _crowd_phase(
    plan: Plan,
    stack: LocalStack,
    run_id: str,
    direct_port: int,
    state: Path,
    say: Callable[[str], None],
) -> CrowdFigures:
    """`crowd`: devices through the gateway and pages through its door, all at once, after
    the same devices on a mutual-TLS Mosquitto of their own and as many direct subscribers."""
    ws_url, cognito, pool_id, broker_pid, door_pid = _page_side(stack)
    serial = f"BENCH{run_id.upper()}CROWD"
    button = (serial, stack.device_endpoint(serial))
    relay = stack.device_endpoint(f"bench-crowd-relay-{run_id}")
    logins = _logins(stack, f"bench-crowd-{run_id}", plan.crowd_devices, say)
    say(f"starting a direct mTLS Mosquitto on port {direct_port} ...")
    with DirectBroker(_direct_plan(stack, state / "direct-crowd", direct_port)) as direct:
        if direct.pid is None:
            raise AssertionError  # unreachable: a started broker has a pid
        job = CrowdJob(
            button=button,
            relay_source=stack.service_endpoint(f"bench-crowd-relay-{run_id}"),
            relay_sink=replace(relay, port=direct_port),
            direct=(relay.host, direct_port),
            subscribers=stack.service_endpoint(f"bench-crowd-direct-{run_id}"),
            gateway=(relay.host, relay.port),
            ca_file=str(stack.certs.ca_files.certificate),
            logins=logins,
            door=Pages(ws_url, cognito, pool_id, LOCAL_REGION),
            pages=plan.crowd_pages,
            pushes=plan.viewer_pushes,
            timeout=plan.timeout,
            quiet_seconds=plan.viewer_quiet_seconds,
            pids=(os.getpid(), broker_pid, direct.pid, door_pid),
        )
        return child.run(job, say)


def _direct_plan(stack: LocalStack, directory: Path, port: int) -> DirectPlan:
    """A private Mosquitto with a mutual-TLS listener trusting the stack's CA."""
    return DirectPlan(
        directory=directory,
        port=port,
        ca_file=stack.certs.ca_files.certificate,
        cert_file=stack.certs.server_files.certificate,
        key_file=stack.certs.server_files.key,
    )


def crowd_descriptors(devices: int, pages: int) -> int:
    """The open files the busiest process of the stack needs for a crowd: two a device in the
    stack's own (its connection, the gateway's to the broker), two a page in the WebSocket
    door's, one a client in Mosquitto's."""
    return max(2 * devices, 2 * pages, devices + pages) + DESCRIPTOR_SPARE


def allow_descriptors(needed: int, say: Callable[[str], None]) -> int:
    """Let this process (and the broker it starts) open `needed` descriptors: the soft limit
    raised to the hard one, and the hard one too where this process may (root); the limit now.
    A limit that stays short is said, not fatal: the phase then reports what did not open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    wanted = max(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if now < needed:
        say(f"open files limited to {now} (the crowd needs about {needed}): some may not open")
    return now


def machine() -> Machine:
    """This machine, for the report's header: CPU model, cores, Python."""
    return Machine(
        cpu=_cpu_model() or platform.processor() or platform.machine() or "unknown",
        cores=os.cpu_count() or 1,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
    )


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("model name", "Hardware", "Model") and value.strip():
            return value.strip()
    return None
