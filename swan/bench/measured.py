"""What the bench measured, as plain values: each phase's samples and counts, the machine,
and a whole run (`Results`). Pure; the phases make them, `swan.bench.figures` reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Latencies:
    """Times from a request to its answer, in seconds; `lost`: requests never answered."""

    seconds: tuple[float, ...]
    lost: int = 0


@dataclass(frozen=True)
class Throughput:
    """`completed` answers counted over `seconds`, with up to `window` requests in flight."""

    completed: int
    seconds: float
    window: int

    @property
    def per_second(self) -> float | None:
        return self.completed / self.seconds if self.seconds > 0 else None


@dataclass(frozen=True)
class BrokerFigures:
    """broker Mosquitto alone: one publisher, one subscriber, QoS 1, the internal listener."""

    round_trip: Latencies
    throughput: Throughput


@dataclass(frozen=True)
class ShadowFigures:
    """shadow The shadow service: update -> `/update/accepted` of one thing's classic shadow."""

    update: Latencies
    throughput: Throughput
    rejected: int = 0


@dataclass(frozen=True)
class PushFigures:
    """push IoT Button clicks at `rate` per second -> the button shadow's `/update/documents`."""

    click_to_documents: Latencies
    rate: float
    clicks: int
    documents: int
    seconds: float


@dataclass(frozen=True)
class PathFigures:
    """One way for a device to reach a broker in gateway: QoS 1 publish -> PUBACK."""

    round_trip: Latencies
    throughput: Throughput


@dataclass(frozen=True)
class GatewayFigures:
    """gateway The same device's publishes directly to a broker by mutual TLS (the baseline of
    the phase) and through the device gateway."""

    direct: PathFigures
    gateway: PathFigures


@dataclass(frozen=True)
class Idle:
    """A spell of `seconds` with the clients open and no pushes: the bytes they sent and
    received together (on their sockets), and the CPU time the stack's process and
    Mosquitto used meanwhile."""

    seconds: float
    bytes: int
    stack_cpu_seconds: float
    broker_cpu_seconds: float

    def percent_of_core(self, cpu_seconds: float) -> float | None:
        return 100 * cpu_seconds / self.seconds if self.seconds > 0 else None


@dataclass(frozen=True)
class FanOut:
    """One fan-out of web: `clients` clients follow the button shadow (pages, or the direct
    subscribers of the baseline), `connected` of them opened in `open_seconds` (`retried`:
    tries beyond a client's first, after one that timed out or failed), their gets
    on connect answered as `gets` says; `pushes` pushes, each timed from the click to its
    arrival at every client (a client that missed it, or never opened, lost it); the stack's
    and Mosquitto's resident memory with the clients open, less what they held before the
    phase's first client; then idle."""

    clients: int
    connected: int
    open_seconds: float
    gets: dict[str, int]
    pushes: int
    push_to_client: Latencies
    stack_memory_bytes: int
    broker_memory_bytes: int
    idle: Idle
    retried: int = 0

    @property
    def deliveries(self) -> int:
        """How many (client, push) arrivals were expected."""
        return self.clients * self.pushes

    @property
    def delivered_percent(self) -> float | None:
        if self.deliveries == 0:
            return None
        return 100 * len(self.push_to_client.seconds) / self.deliveries

    @property
    def idle_bytes_per_client_second(self) -> float | None:
        if self.connected == 0 or self.idle.seconds <= 0:
            return None
        return self.idle.bytes / self.connected / self.idle.seconds

    def memory_per_client(self, grown: int) -> float | None:
        return grown / self.connected if self.connected else None


@dataclass(frozen=True)
class WebRun:
    """web at one size: `pages` pages, and as many direct subscribers before them."""

    pages: int
    direct: FanOut
    web: FanOut


@dataclass(frozen=True)
class WebFigures:
    """web push -> every page through the WebSocket door, at each size in turn."""

    runs: tuple[WebRun, ...]


@dataclass(frozen=True)
class ViewerRun:
    """`viewers` at one size: that many devices following the button shadow, first directly
    on a mutual-TLS Mosquitto (the baseline), then through the device gateway."""

    viewers: int
    direct: FanOut
    gateway: FanOut


@dataclass(frozen=True)
class ViewerFigures:
    """`viewers`: push -> every viewer, direct and through the gateway, at each size."""

    runs: tuple[ViewerRun, ...]


@dataclass(frozen=True)
class CrowdFigures:
    """`crowd`: `devices` devices through the gateway and `pages` pages through its WebSocket
    door, all open at once, hearing the same pushes (`fan_out`); before them, the baseline
    (`direct`): the devices on a mutual-TLS Mosquitto and as many direct subscribers of the
    stack's broker as pages."""

    devices: int
    pages: int
    direct: FanOut
    fan_out: FanOut


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    python: str
    platform: str


@dataclass(frozen=True)
class Results:
    """One run of the bench; a phase not measured (`--only`) is None."""

    machine: Machine
    quick: bool
    broker: BrokerFigures | None = None
    shadow: ShadowFigures | None = None
    push: PushFigures | None = None
    gateway: GatewayFigures | None = None
    web: WebFigures | None = None
    viewers: ViewerFigures | None = None
    crowd: CrowdFigures | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # the plan, for the JSON


def percentile(samples: tuple[float, ...] | list[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest sample with at least q% of them at or below.

    None for no samples. p50 of 1..100 is 50, p99 is 99; with fewer than 100 samples p99 is
    the largest.
    """
    if not 0 < q <= 100:  # noqa: PLR2004  (percent)
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    if not samples:
        return None
    ordered = sorted(samples)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]
