"""What a load process is asked to measure, and what it answers: both as plain JSON.

The bench's MQTT clients run in a child process (`python -m swan.bench.load`), so that the
process being measured hosts only the stack. The bench writes one job to the child's stdin
(the phase, its logins as plain values, its load settings); the child answers with the
phase's figures on stdout, every latency sample included, so that the report computes its
percentiles from the same numbers as before. Pure: JSON values in, JSON values out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from swan.adapters.mqtt import Endpoint
from swan.bench import gateway, push, viewers, web
from swan.bench.json_fields import Fields, InvalidJsonError
from swan.bench.loops import Load
from swan.bench.measured import (
    BrokerFigures,
    CrowdFigures,
    FanOut,
    GatewayFigures,
    Idle,
    Latencies,
    PathFigures,
    PushFigures,
    ShadowFigures,
    Throughput,
    ViewerFigures,
    ViewerRun,
    WebFigures,
    WebRun,
)

# Starting Python, importing awscrt and connecting: on top of what the measurement takes.
STARTUP_SECONDS: Final = 30.0

PhaseFigures = (
    BrokerFigures
    | ShadowFigures
    | PushFigures
    | GatewayFigures
    | WebFigures
    | ViewerFigures
    | CrowdFigures
)


@dataclass(frozen=True)
class BrokerJob:
    """broker: `publisher` publishes to `topic`, which `subscriber` subscribes to."""

    PHASE: ClassVar[str] = "broker"

    publisher: Endpoint
    subscriber: Endpoint
    topic: str
    load: Load

    @property
    def time_limit(self) -> float:
        return STARTUP_SECONDS + self.load.longest

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.PHASE,
            "publisher": endpoint_to_json(self.publisher),
            "subscriber": endpoint_to_json(self.subscriber),
            "topic": self.topic,
            "load": asdict(self.load),
        }

    def figures_from_json(self, document: object) -> BrokerFigures:
        fields = _answer(document, self.PHASE)
        return BrokerFigures(
            _latencies(fields.object("round_trip")), _throughput(fields.object("throughput"))
        )


@dataclass(frozen=True)
class ShadowJob:
    """shadow: `client` updates `thing`'s shadow; `listener` hears the answers."""

    PHASE: ClassVar[str] = "shadow"

    client: Endpoint
    listener: Endpoint
    thing: str
    load: Load

    @property
    def time_limit(self) -> float:
        return STARTUP_SECONDS + self.load.longest

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.PHASE,
            "client": endpoint_to_json(self.client),
            "listener": endpoint_to_json(self.listener),
            "thing": self.thing,
            "load": asdict(self.load),
        }

    def figures_from_json(self, document: object) -> ShadowFigures:
        fields = _answer(document, self.PHASE)
        return ShadowFigures(
            _latencies(fields.object("update")),
            _throughput(fields.object("throughput")),
            fields.count("rejected"),
        )


@dataclass(frozen=True)
class PushJob:
    """push: `buttons` (serial, device login) click `rate` times a second; `watcher` follows
    the button shadow's documents."""

    PHASE: ClassVar[str] = "push"

    buttons: tuple[tuple[str, Endpoint], ...]
    watcher: Endpoint
    rate: float
    seconds: float
    timeout: float

    @property
    def time_limit(self) -> float:
        measuring = push.longest(rate=self.rate, seconds=self.seconds, timeout=self.timeout)
        return STARTUP_SECONDS + measuring

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.PHASE,
            "buttons": [
                {"serial": serial, "endpoint": endpoint_to_json(endpoint)}
                for serial, endpoint in self.buttons
            ],
            "watcher": endpoint_to_json(self.watcher),
            "rate": self.rate,
            "seconds": self.seconds,
            "timeout": self.timeout,
        }

    def figures_from_json(self, document: object) -> PushFigures:
        fields = _answer(document, self.PHASE)
        return PushFigures(
            _latencies(fields.object("click_to_documents")),
            rate=fields.number("rate"),
            clicks=fields.count("clicks"),
            documents=fields.count("documents"),
            seconds=fields.number("seconds"),
        )


@dataclass(frozen=True)
class GatewayJob:
    """gateway: one device publishes to `topic` by `direct` (mutual TLS to a private broker) and by
    `gateway` (the same device through the stack's device gateway)."""

    PHASE: ClassVar[str] = "gateway"

    direct: Endpoint
    gateway: Endpoint
    topic: str
    load: Load

    @property
    def time_limit(self) -> float:
        return STARTUP_SECONDS + gateway.longest(self.load)

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.PHASE,
            "direct": endpoint_to_json(self.direct),
            "gateway": endpoint_to_json(self.gateway),
            "topic": self.topic,
            "load": asdict(self.load),
        }

    def figures_from_json(self, document: object) -> GatewayFigures:
        fields = _answer(document, self.PHASE)
        return GatewayFigures(
            direct=_path_figures(fields.object("direct")),
            gateway=_path_figures(fields.object("gateway")),
        )


@dataclass(frozen=True)
class WebJob:
    """web: at each of `sizes`, as many direct subscribers (`direct`: the broker's internal
    listener; its client id is their prefix) and then as many pages (Cognito identities of
    `pool_id` at `cognito`, over SigV4-signed WebSockets at `ws_url`) follow the button
    shadow; `button` (serial, device login) pushes `pushes` times; then `quiet_seconds` with
    no pushes. `front_pids` (the stack's and its WebSocket door's) and `broker_pid` are
    the processes read from /proc."""

    PHASE: ClassVar[str] = "web"

    button: tuple[str, Endpoint]
    direct: Endpoint
    ws_url: str
    cognito: str
    pool_id: str
    region: str
    sizes: tuple[int, ...]
    pushes: int
    timeout: float
    quiet_seconds: float
    front_pids: tuple[int, ...]
    broker_pid: int

    @property
    def time_limit(self) -> float:
        measuring = web.longest(
            sizes=self.sizes,
            pushes=self.pushes,
            timeout=self.timeout,
            quiet_seconds=self.quiet_seconds,
        )
        return STARTUP_SECONDS * 2 + measuring  # the load process, then its workers

    def to_json(self) -> dict[str, Any]:
        serial, endpoint = self.button
        return {
            "phase": self.PHASE,
            "button": {"serial": serial, "endpoint": endpoint_to_json(endpoint)},
            "direct": endpoint_to_json(self.direct),
            "ws_url": self.ws_url,
            "cognito": self.cognito,
            "pool_id": self.pool_id,
            "region": self.region,
            "sizes": list(self.sizes),
            "pushes": self.pushes,
            "timeout": self.timeout,
            "quiet_seconds": self.quiet_seconds,
            "front_pids": list(self.front_pids),
            "broker_pid": self.broker_pid,
        }

    def figures_from_json(self, document: object) -> WebFigures:
        fields = _answer(document, self.PHASE)
        return WebFigures(
            tuple(
                WebRun(
                    run.count("pages"),
                    direct=_fan_out(run.object("direct")),
                    web=_fan_out(run.object("web")),
                )
                for run in fields.objects("runs")
            )
        )


@dataclass(frozen=True)
class Pages:
    """Where pages get their identities and open their WebSockets (`crowd`, and web)."""

    ws_url: str
    cognito: str
    pool_id: str
    region: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, fields: Fields) -> Pages:
        return cls(
            fields.text("ws_url"),
            fields.text("cognito"),
            fields.text("pool_id"),
            fields.text("region"),
        )


@dataclass(frozen=True)
class ViewersJob:
    """`viewers`: at each of `sizes`, that many of `logins` (devices: client id, certificate,
    key) follow the button shadow, first on `direct` (a mutual-TLS Mosquitto, fed by a relay:
    `relay_source` subscribes on the stack's broker, `relay_sink` publishes on the direct
    one), then through the gateway at `gateway`; `button` pushes `pushes` times; then
    `quiet_seconds` idle. The pids are read from /proc: the stack's, its broker's, the
    direct broker's."""

    PHASE: ClassVar[str] = "viewers"

    button: tuple[str, Endpoint]
    relay_source: Endpoint
    relay_sink: Endpoint
    direct: tuple[str, int]
    gateway: tuple[str, int]
    ca_file: str
    logins: tuple[tuple[str, str, str], ...]
    sizes: tuple[int, ...]
    pushes: int
    timeout: float
    quiet_seconds: float
    pids: tuple[int, int, int]

    @property
    def time_limit(self) -> float:
        measuring = viewers.longest(
            sizes=self.sizes,
            pushes=self.pushes,
            timeout=self.timeout,
            quiet_seconds=self.quiet_seconds,
        )
        return STARTUP_SECONDS * 2 + measuring  # the load process, then its workers

    def to_json(self) -> dict[str, Any]:
        serial, endpoint = self.button
        return {
            "phase": self.PHASE,
            "button": {"serial": serial, "endpoint": endpoint_to_json(endpoint)},
            "relay_source": endpoint_to_json(self.relay_source),
            "relay_sink": endpoint_to_json(self.relay_sink),
            "direct": {"host": self.direct[0], "port": self.direct[1]},
            "gateway": {"host": self.gateway[0], "port": self.gateway[1]},
            "ca_file": self.ca_file,
            "logins": _logins_to_json(self.logins),
            "sizes": list(self.sizes),
            "pushes": self.pushes,
            "timeout": self.timeout,
            "quiet_seconds": self.quiet_seconds,
            "pids": list(self.pids),
        }

    def figures_from_json(self, document: object) -> ViewerFigures:
        fields = _answer(document, self.PHASE)
        return ViewerFigures(
            tuple(
                ViewerRun(
                    run.count("viewers"),
                    direct=_fan_out(run.object("direct")),
                    gateway=_fan_out(run.object("gateway")),
                )
                for run in fields.objects("runs")
            )
        )


@dataclass(frozen=True)
class CrowdJob:
    """`crowd`: first the baseline, `logins` (devices) on `direct` (a mutual-TLS Mosquitto
    fed by the relay, as in `viewers`) and as many direct subscribers as pages on the stack's
    broker (`subscribers`: the login on its internal listener); then the devices through the
    gateway at `gateway` and `pages` pages at `door`, all open at once; `button` pushes
    `pushes` times; then `quiet_seconds` idle. `pids`: the stack's, its broker's, the direct
    broker's, the WebSocket door's."""

    PHASE: ClassVar[str] = "crowd"

    button: tuple[str, Endpoint]
    relay_source: Endpoint
    relay_sink: Endpoint
    direct: tuple[str, int]
    subscribers: Endpoint
    gateway: tuple[str, int]
    ca_file: str
    logins: tuple[tuple[str, str, str], ...]
    door: Pages
    pages: int
    pushes: int
    timeout: float
    quiet_seconds: float
    pids: tuple[int, int, int, int]

    @property
    def time_limit(self) -> float:
        measuring = viewers.crowd_longest(
            clients=len(self.logins) + self.pages,
            pushes=self.pushes,
            timeout=self.timeout,
            quiet_seconds=self.quiet_seconds,
        )
        return STARTUP_SECONDS * 2 + measuring

    def to_json(self) -> dict[str, Any]:
        serial, endpoint = self.button
        return {
            "phase": self.PHASE,
            "button": {"serial": serial, "endpoint": endpoint_to_json(endpoint)},
            "relay_source": endpoint_to_json(self.relay_source),
            "relay_sink": endpoint_to_json(self.relay_sink),
            "direct": {"host": self.direct[0], "port": self.direct[1]},
            "subscribers": endpoint_to_json(self.subscribers),
            "gateway": {"host": self.gateway[0], "port": self.gateway[1]},
            "ca_file": self.ca_file,
            "logins": _logins_to_json(self.logins),
            "door": self.door.to_json(),
            "pages": self.pages,
            "pushes": self.pushes,
            "timeout": self.timeout,
            "quiet_seconds": self.quiet_seconds,
            "pids": list(self.pids),
        }

    def figures_from_json(self, document: object) -> CrowdFigures:
        fields = _answer(document, self.PHASE)
        return CrowdFigures(
            fields.count("devices"),
            fields.count("pages"),
            direct=_fan_out(fields.object("direct")),
            fan_out=_fan_out(fields.object("fan_out")),
        )


Job = BrokerJob | ShadowJob | PushJob | GatewayJob | WebJob | ViewersJob | CrowdJob


def job_from_json(document: object) -> Job:  # noqa: PLR0911  (one return per phase)
    """The job a load process was given; InvalidJsonError says what is wrong with it."""
    fields = Fields.of(document, "job")
    phase = fields.text("phase")
    if phase == BrokerJob.PHASE:
        return BrokerJob(
            publisher=endpoint_from_json(fields.object("publisher")),
            subscriber=endpoint_from_json(fields.object("subscriber")),
            topic=fields.text("topic"),
            load=_load(fields.object("load")),
        )
    if phase == ShadowJob.PHASE:
        return ShadowJob(
            client=endpoint_from_json(fields.object("client")),
            listener=endpoint_from_json(fields.object("listener")),
            thing=fields.text("thing"),
            load=_load(fields.object("load")),
        )
    if phase == PushJob.PHASE:
        buttons = fields.objects("buttons")
        if not buttons:
            raise InvalidJsonError(f"{fields.where}.buttons", "no buttons to click")
        return PushJob(
            buttons=tuple(
                (button.text("serial"), endpoint_from_json(button.object("endpoint")))
                for button in buttons
            ),
            watcher=endpoint_from_json(fields.object("watcher")),
            rate=fields.positive("rate"),
            seconds=fields.positive("seconds"),
            timeout=fields.positive("timeout"),
        )
    if phase == GatewayJob.PHASE:
        return GatewayJob(
            direct=endpoint_from_json(fields.object("direct")),
            gateway=endpoint_from_json(fields.object("gateway")),
            topic=fields.text("topic"),
            load=_load(fields.object("load")),
        )
    if phase == WebJob.PHASE:
        button = fields.object("button")
        raw_sizes = fields.numbers("sizes")
        if not raw_sizes or any(size < 1 or size != int(size) for size in raw_sizes):
            raise InvalidJsonError(f"{fields.where}.sizes", "not counts of pages to open")
        sizes = tuple(int(size) for size in raw_sizes)
        return WebJob(
            button=(button.text("serial"), endpoint_from_json(button.object("endpoint"))),
            direct=endpoint_from_json(fields.object("direct")),
            ws_url=fields.text("ws_url"),
            cognito=fields.text("cognito"),
            pool_id=fields.text("pool_id"),
            region=fields.text("region"),
            sizes=sizes,
            pushes=fields.count("pushes"),
            timeout=fields.positive("timeout"),
            quiet_seconds=fields.positive("quiet_seconds"),
            front_pids=_pids(fields, 2, "front_pids"),
            broker_pid=fields.count("broker_pid"),
        )
    if phase == ViewersJob.PHASE:
        button = fields.object("button")
        return ViewersJob(
            button=(button.text("serial"), endpoint_from_json(button.object("endpoint"))),
            relay_source=endpoint_from_json(fields.object("relay_source")),
            relay_sink=endpoint_from_json(fields.object("relay_sink")),
            direct=_address(fields.object("direct")),
            gateway=_address(fields.object("gateway")),
            ca_file=fields.text("ca_file"),
            logins=_logins(fields, max(_sizes(fields, "sizes"))),
            sizes=_sizes(fields, "sizes"),
            pushes=fields.count("pushes"),
            timeout=fields.positive("timeout"),
            quiet_seconds=fields.positive("quiet_seconds"),
            pids=_pids(fields, 3),  # type: ignore[arg-type]
        )
    if phase == CrowdJob.PHASE:
        button = fields.object("button")
        return CrowdJob(
            button=(button.text("serial"), endpoint_from_json(button.object("endpoint"))),
            relay_source=endpoint_from_json(fields.object("relay_source")),
            relay_sink=endpoint_from_json(fields.object("relay_sink")),
            direct=_address(fields.object("direct")),
            subscribers=endpoint_from_json(fields.object("subscribers")),
            gateway=_address(fields.object("gateway")),
            ca_file=fields.text("ca_file"),
            logins=_logins(fields, 0),
            door=Pages.from_json(fields.object("door")),
            pages=fields.count("pages"),
            pushes=fields.count("pushes"),
            timeout=fields.positive("timeout"),
            quiet_seconds=fields.positive("quiet_seconds"),
            pids=_pids(fields, 4),  # type: ignore[arg-type]
        )
    raise InvalidJsonError(f"{fields.where}.phase", f"not a phase: {phase!r}")


def _sizes(fields: Fields, key: str) -> tuple[int, ...]:
    raw = fields.numbers(key)
    if not raw or any(size < 1 or size != int(size) for size in raw):
        raise InvalidJsonError(f"{fields.where}.{key}", "not counts of clients to open")
    return tuple(int(size) for size in raw)


def _logins(fields: Fields, at_least: int) -> tuple[tuple[str, str, str], ...]:
    logins = tuple(
        (login.text("client_id"), login.text("cert_file"), login.text("key_file"))
        for login in fields.objects("logins")
    )
    if len(logins) < at_least:
        raise InvalidJsonError(f"{fields.where}.logins", f"{len(logins)}, fewer than {at_least}")
    return logins


def _logins_to_json(logins: tuple[tuple[str, str, str], ...]) -> list[dict[str, str]]:
    return [
        {"client_id": client_id, "cert_file": cert_file, "key_file": key_file}
        for client_id, cert_file, key_file in logins
    ]


def _address(fields: Fields) -> tuple[str, int]:
    return fields.text("host"), fields.count("port")


def _pids(fields: Fields, count: int, key: str = "pids") -> tuple[int, ...]:
    pids = fields.numbers(key)
    if len(pids) != count or any(pid < 1 or pid != int(pid) for pid in pids):
        raise InvalidJsonError(f"{fields.where}.{key}", f"not {count} process ids")
    return tuple(int(pid) for pid in pids)


def figures_to_json(phase: str, figures: PhaseFigures) -> dict[str, Any]:
    """A load process's answer: the phase and its figures, every sample included."""
    return {"phase": phase, **asdict(figures)}


# ---------------------------------------------------------------- logins


def endpoint_to_json(endpoint: Endpoint) -> dict[str, Any]:
    """A login as plain values: a password login on a unix socket, or mTLS files.

    A last will is not carried: no login of the bench has one.
    """
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "client_id": endpoint.client_id,
        "username": endpoint.username,
        "password": endpoint.password,
        "ca_file": _path_text(endpoint.ca_file),
        "cert_file": _path_text(endpoint.cert_file),
        "key_file": _path_text(endpoint.key_file),
        "socket_path": _path_text(endpoint.socket_path),
        "keep_alive_secs": endpoint.keep_alive_secs,
        "clean_session": endpoint.clean_session,
    }


def endpoint_from_json(fields: Fields) -> Endpoint:
    return Endpoint(
        fields.text("host"),
        fields.count("port"),
        fields.text("client_id"),
        username=fields.optional_text("username"),
        password=fields.optional_text("password"),
        ca_file=_path(fields.optional_text("ca_file")),
        cert_file=_path(fields.optional_text("cert_file")),
        key_file=_path(fields.optional_text("key_file")),
        socket_path=_path(fields.optional_text("socket_path")),
        keep_alive_secs=fields.count("keep_alive_secs"),
        clean_session=fields.flag("clean_session"),
    )


def _path_text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


# ---------------------------------------------------------------- measured values


def _answer(document: object, phase: str) -> Fields:
    fields = Fields.of(document, "answer")
    answered = fields.text("phase")
    if answered != phase:
        raise InvalidJsonError(f"{fields.where}.phase", f"{answered!r}, not {phase!r}")
    return fields


def _load(fields: Fields) -> Load:
    return Load(
        samples=fields.count("samples"),
        seconds=fields.positive("seconds"),
        window=fields.count("window"),
        timeout=fields.positive("timeout"),
    )


def _latencies(fields: Fields) -> Latencies:
    seconds = fields.numbers("seconds")
    if any(value < 0 for value in seconds):
        raise InvalidJsonError(f"{fields.where}.seconds", "a negative latency")
    return Latencies(seconds, fields.count("lost"))


def _fan_out(fields: Fields) -> FanOut:
    idle = fields.object("idle")
    gets = fields.object("gets")
    return FanOut(
        clients=fields.count("clients"),
        connected=fields.count("connected"),
        open_seconds=fields.number("open_seconds"),
        retried=fields.count("retried"),
        gets={name: gets.count(name) for name in gets.values},
        pushes=fields.count("pushes"),
        push_to_client=_latencies(fields.object("push_to_client")),
        stack_memory_bytes=int(fields.number("stack_memory_bytes")),
        broker_memory_bytes=int(fields.number("broker_memory_bytes")),
        idle=Idle(
            seconds=idle.number("seconds"),
            bytes=idle.count("bytes"),
            stack_cpu_seconds=idle.number("stack_cpu_seconds"),
            broker_cpu_seconds=idle.number("broker_cpu_seconds"),
        ),
    )


def _path_figures(fields: Fields) -> PathFigures:
    return PathFigures(
        _latencies(fields.object("round_trip")), _throughput(fields.object("throughput"))
    )


def _throughput(fields: Fields) -> Throughput:
    seconds = fields.number("seconds")
    if seconds < 0:
        raise InvalidJsonError(f"{fields.where}.seconds", "a negative duration")
    return Throughput(fields.count("completed"), seconds, fields.count("window"))
