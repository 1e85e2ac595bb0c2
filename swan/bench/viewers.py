"""`viewers`: push -> every MQTT viewer through the device gateway, beside as many viewers
connected directly to Mosquitto by mutual TLS; and `crowd`, ten thousand viewers at once.

A viewer is a device that follows the button shadow (a Raspberry Pi, say): its own
certificate and thing, mutual TLS, MQTT 3.1.1 as its thing, one subscription to
`$aws/things/button/shadow/update/documents` (at `DOCUMENTS_QOS`, 0, as the Pi's). An IoT
Button pushes, one push at a time and well apart: the rules engine hands the click to the
push handler, which writes the button shadow, and the shadow service publishes the documents
message. A push's latency at a viewer is the time from the click to the first documents
message there whose `pushes` includes it; p50/p99/max over every (viewer, push); a viewer
that never saw a push lost it.

`viewers`, at each size (1,000, then 3,000):
1. the baseline: the viewers connect to a private Mosquitto with a mutual-TLS listener
   (`swan.bench.direct`, the same CA and server certificate as the gateway), and a relay in
   the load process (`Relay`: one subscriber on the stack's broker, one publisher on the
   direct broker) hands each documents message over as it comes: one more hop on the direct
   path, none on the gateway's;
2. the same viewers connect through the stack's device gateway, as Pis do.
`crowd`: devices through the gateway and pages over SigV4-signed WebSockets (`swan.bench.pages`),
mixed, all open at once, hear the same pushes.

Every viewer lives in a worker process (`swan.bench.crowds`); memory per idle connection is
the resident memory the front process (the stack's, where the gateway runs; or the direct
broker) and the broker behind it grew by with the viewers open.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Final, Self

from swan.bench import crowds
from swan.bench.measured import CrowdFigures, ViewerFigures, ViewerRun
from swan.bench.page_worker import Devices
from swan.core.topics import BUTTON_SHADOW

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Message, Transport
    from swan.bench.page_worker import Setup

VIEWERS_PER_WORKER: Final = 750
CROWD_PER_WORKER: Final = 1250
Login = tuple[str, str, str]  # client id, certificate file, key file


class Relay:
    """The direct path's documents: every one the stack's broker publishes, published again
    on the direct broker (QoS 1, as the shadow service publishes them), as it arrives."""

    def __init__(self, source: Transport, sink: Transport) -> None:
        self._sink = sink
        self._source = source
        self.relayed = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._source.subscribe(BUTTON_SHADOW.update_documents, self._take)
        return self

    def __exit__(self, *_: object) -> None:
        self._source.unsubscribe(BUTTON_SHADOW.update_documents)

    def _take(self, message: Message) -> None:
        self._sink.publish(message.topic, message.payload)
        with self._lock:
            self.relayed += 1


def longest(*, sizes: Sequence[int], pushes: int, timeout: float, quiet_seconds: float) -> float:
    """The longest `measure` takes once the workers run: two fan-outs at each size."""
    workers = crowds.workers_for(sizes, VIEWERS_PER_WORKER)
    return sum(
        2
        * crowds.fan_out_bound(
            size, workers, pushes=pushes, timeout=timeout, quiet_seconds=quiet_seconds
        )
        for size in sizes
    )


def crowd_longest(*, clients: int, pushes: int, timeout: float, quiet_seconds: float) -> float:
    """The longest `measure_crowd` takes once the workers run: one fan-out."""
    workers = crowds.workers_for((clients,), CROWD_PER_WORKER)
    return crowds.fan_out_bound(
        clients, workers, pushes=pushes, timeout=timeout, quiet_seconds=quiet_seconds
    )


def device_opens(
    devices: Devices, logins: Sequence[Login], workers: int
) -> list[dict[str, object] | None]:
    """Each worker's open command for its share of `logins` at `devices`' listener."""
    commands: list[dict[str, object] | None] = []
    at = 0
    for share in crowds.shares(len(logins), workers):
        part = tuple(logins[at : at + share])
        at += share
        mine = Devices(devices.host, devices.port, devices.ca_file, part)
        commands.append({"do": "open", "kind": "device", "devices": mine.to_json()})
    return commands


def measure(  # noqa: PLR0913  (the phase's settings, one keyword each)
    setup: Setup,
    button: tuple[str, Transport],
    *,
    direct: Devices,
    gateway: Devices,
    sizes: Sequence[int],
    pushes: int,
    quiet_seconds: float,
    watched: crowds.Watched,
    direct_watched: crowds.Watched,
    say: Callable[[str], None],
    command: Sequence[str] = crowds.WORKER_COMMAND,
) -> ViewerFigures:
    """At each size: the viewers directly on the mutual-TLS Mosquitto, then through the
    gateway (`direct.logins` and `gateway.logins` are the same devices' logins, as many as
    the largest size). The relay must be running for the direct path to hear any push."""

    async def run() -> ViewerFigures:
        count = crowds.workers_for(sizes, VIEWERS_PER_WORKER)
        async with crowds.started_workers(count, setup, say, command) as workers:
            crowd = crowds.Crowd(
                workers, crowds.clicker(button), pushes, quiet_seconds, setup.timeout, say
            )
            zero_direct, zero = crowds.usage(direct_watched), crowds.usage(watched)
            runs = []
            for size in sizes:
                baseline = await crowd.fan_out(
                    device_opens(direct, direct.logins[:size], len(workers)),
                    "viewers on direct mutual TLS",
                    direct_watched,
                    zero_direct,
                )
                through = await crowd.fan_out(
                    device_opens(gateway, gateway.logins[:size], len(workers)),
                    "viewers through the gateway",
                    watched,
                    zero,
                )
                runs.append(ViewerRun(size, baseline, through))
        return ViewerFigures(tuple(runs))

    return asyncio.run(run())


def measure_crowd(  # noqa: PLR0913  (the phase's settings, one keyword each)
    setup: Setup,
    button: tuple[str, Transport],
    *,
    gateway: Devices,
    direct: Devices,
    pages: int,
    pushes: int,
    quiet_seconds: float,
    watched: crowds.Watched,
    direct_watched: crowds.Watched,
    say: Callable[[str], None],
    command: Sequence[str] = crowds.WORKER_COMMAND,
) -> CrowdFigures:
    """The baseline (the devices on `direct`, and as many direct subscribers of the broker as
    pages), then `gateway.logins` devices and `pages` pages: each worker holds some of both,
    all open at once; a fan-out each. The relay must be running for the direct devices."""

    async def run() -> CrowdFigures:
        total = len(gateway.logins) + pages
        count = crowds.workers_for((total,), CROWD_PER_WORKER)
        async with crowds.started_workers(count, setup, say, command) as workers:
            crowd = crowds.Crowd(
                workers, crowds.clicker(button), pushes, quiet_seconds, setup.timeout, say
            )
            zero_direct, zero = crowds.usage(direct_watched), crowds.usage(watched)
            split = crowds.shares(pages, len(workers))
            baseline = await crowd.fan_out(
                _mixed(
                    device_opens(direct, direct.logins, len(workers)),
                    [_open("direct", share, f"crowd-{n}") for n, share in enumerate(split)],
                ),
                "devices on direct mutual TLS and direct subscribers",
                direct_watched,
                zero_direct,
            )
            through = await crowd.fan_out(
                _mixed(
                    device_opens(gateway, gateway.logins, len(workers)),
                    [_open("page", share, "crowd") for share in split],
                ),
                "devices and pages through the gateway",
                watched,
                zero,
            )
        return CrowdFigures(len(gateway.logins), pages, baseline, through)

    return asyncio.run(run())


def _open(kind: str, count: int, prefix: str) -> dict[str, object]:
    return {"do": "open", "kind": kind, "count": count, "prefix": prefix}


def _mixed(
    devices: Sequence[dict[str, object] | None], others: Sequence[dict[str, object]]
) -> list[dict[str, object] | None]:
    """Each worker's devices, then its other clients, in one open command."""
    return [
        {"do": "open", "kind": "mixed", "parts": [device, other]}
        for device, other in zip(devices, others, strict=True)
    ]
