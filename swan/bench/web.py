"""web Push -> every page: the static page's path, through the gateway's WebSocket door.

No server of ours sits between the browsers and the broker: each page is its own Cognito
identity on its own SigV4-signed WebSocket (`swan.bench.pages`), and the broker fans a push
out to all of them through the door. At each size in turn (200, then 1,000 pages):

1. the baseline: as many direct subscribers (the same MQTT client on the broker's unix
   socket: no WebSocket, no signature, no gateway) open, follow the button shadow, hear
   the same pushes and then idle;
2. the pages do the same.

For each: the clients open, spread over worker processes (`swan.bench.crowds`), and
each publishes its get on connect as the page does. The get answers take the button
shadow's budget (AWS: 20 requests a second per thing), so the pushes start once it has
refilled. A warm-up push, then `pushes` pushes one at a time: an IoT Button (mTLS, as a
real one) clicks, the push handler writes the shadow, and every client notes when the
documents message with the new count arrives; the next push waits until every client has it
(or the timeout), then a gap. Then `quiet_seconds` (by default one keep-alive of the page,
60 s) with the clients open and no pushes: the CPU the stack's processes in front of the
broker (the stack's own, where the device gateway runs, and the WebSocket door's, counted
together) and Mosquitto used, and the bytes the clients sent and received (their
keep-alives, one each). Memory: their resident sets with the clients open, less
what they held before the phase's first client. /proc is read by this process, which holds
no client but the button.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from swan.bench import crowds
from swan.bench.measured import WebFigures, WebRun

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Transport
    from swan.bench.page_worker import Setup

PAGES_PER_WORKER: Final = 250
Watched = crowds.Watched


def workers_for(sizes: Sequence[int]) -> int:
    """How many worker processes hold the clients: one per `PAGES_PER_WORKER` of the largest
    size (the same workers serve every size)."""
    return crowds.workers_for(sizes, PAGES_PER_WORKER)


shares = crowds.shares


def longest(*, sizes: Sequence[int], pushes: int, timeout: float, quiet_seconds: float) -> float:
    """The longest `measure` takes once the workers run: at each size, two fan-outs (direct,
    then pages)."""
    workers = workers_for(sizes)
    return sum(
        2
        * crowds.fan_out_bound(
            size, workers, pushes=pushes, timeout=timeout, quiet_seconds=quiet_seconds
        )
        for size in sizes
    )


def measure(  # noqa: PLR0913  (the phase's settings, one keyword each)
    setup: Setup,
    button: tuple[str, Transport],
    *,
    sizes: Sequence[int],
    pushes: int,
    quiet_seconds: float,
    watched: Watched,
    prefix: str,
    say: Callable[[str], None],
    command: Sequence[str] = crowds.WORKER_COMMAND,
) -> WebFigures:
    """At each size: the direct subscribers, then the pages (see the module's docstring)."""

    async def run() -> WebFigures:
        async with crowds.started_workers(workers_for(sizes), setup, say, command) as workers:
            crowd = crowds.Crowd(
                workers, crowds.clicker(button), pushes, quiet_seconds, setup.timeout, say
            )
            zero = crowds.usage(watched)  # before any client: what their memory is counted from
            runs = []
            for size in sizes:
                split = shares(size, len(workers))
                direct = await crowd.fan_out(
                    [_open("direct", share, f"{prefix}-{n}") for n, share in enumerate(split)],
                    "direct subscribers",
                    watched,
                    zero,
                )
                pages = await crowd.fan_out(
                    [_open("page", share, f"{prefix}-{n}") for n, share in enumerate(split)],
                    "pages",
                    watched,
                    zero,
                )
                runs.append(WebRun(size, direct, pages))
        return WebFigures(tuple(runs))

    return asyncio.run(run())


def _open(kind: str, count: int, prefix: str) -> dict[str, object]:
    return {"do": "open", "kind": kind, "count": count, "prefix": prefix}
