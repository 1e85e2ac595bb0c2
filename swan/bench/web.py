"""(e) The web app: a push reaches every open page, and with no pushes the backend idles.

Many pages (`swan.bench.browsers`, websockets speaking what Reflex's frontend speaks) open
on the web app's one backend, hydrate and join the board. Then an IoT Button
(mTLS, as a real one) clicks, a few times and well apart: the rules engine hands each click
to the push handler, which writes the button shadow; the backend's one MQTT link hears the
`/update/documents` and sends the new board to every page
(`webapp.broadcast`). A push's latency at a page is the time from the click to the page's first
board change whose push count includes it. Then nobody pushes for a while, the pages stay
open (answering the server's pings), and the backend's process group's CPU time is read
from /proc before and after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Final

from swan.bench.cpu import group_ticks, ticks_per_second, used_seconds
from swan.bench.fanout import delivery_latencies, merged
from swan.bench.loops import BenchTimeoutError
from swan.bench.report import IdleCpu, Latencies, WebFigures
from swan.core.codecs import ButtonClick

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Transport
    from swan.bench.browsers import Page

log = logging.getLogger(__name__)

WARM_UP: Final = 1  # pushes before the measured ones: the first of a run schedules its expiry
GAP: Final = 0.5  # seconds between one push's last delivery and the next push
OPENING: Final = 20  # pages opening at the same time, as people arriving


def measure(  # noqa: PLR0913  (the phase's settings, one keyword each)
    host: str,
    port: int,
    button: tuple[str, Transport],
    *,
    clients: int,
    pushes: int,
    timeout: float,
    quiet_seconds: float,
    backend_group: int,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.perf_counter,
) -> WebFigures:
    """Open `clients` pages, push `pushes` times, then stay quiet for `quiet_seconds`."""
    serial, device = button
    topic = f"iotbutton/{serial}"
    payload = json.dumps(ButtonClick(serial, "SINGLE", 1650).to_payload()).encode()

    def click() -> None:
        device.publish(topic, payload)

    def cpu_now() -> dict[int, int]:
        return group_ticks(backend_group)

    return asyncio.run(
        _measure(
            host,
            port,
            click,
            clients=clients,
            pushes=pushes,
            wait_limit=timeout,
            quiet_seconds=quiet_seconds,
            cpu_now=cpu_now,
            say=say,
            clock=clock,
        )
    )


def longest(*, clients: int, pushes: int, timeout: float, quiet_seconds: float) -> float:
    """The longest `measure` takes, connecting aside: the pages open `OPENING` at a time,
    each within `timeout`; every push (warm-up included) waits at most `timeout` and a gap;
    the quiet spell; closing."""
    opening = -(-clients // OPENING) * timeout
    return opening + (WARM_UP + pushes) * (timeout + GAP) + quiet_seconds + timeout


async def _measure(  # noqa: PLR0913  (as `measure`)
    host: str,
    port: int,
    click: Callable[[], None],
    *,
    clients: int,
    pushes: int,
    wait_limit: float,
    quiet_seconds: float,
    cpu_now: Callable[[], dict[int, int]],
    say: Callable[[str], None],
    clock: Callable[[], float],
) -> WebFigures:
    from swan.bench.browsers import Page  # noqa: PLC0415  (wsproto: only where pages open)

    say(f"opening {clients} pages of the web app at {host}:{port}, {OPENING} at a time ...")
    began = clock()
    pages = await _open_all([Page(host, port, clock) for _ in range(clients)], wait_limit)
    connect_seconds = clock() - began
    try:
        if not pages:
            raise BenchTimeoutError("page of the web app open", wait_limit)
        say(f"{len(pages)} pages joined the board in {connect_seconds:.1f} s")
        for _ in range(WARM_UP):
            await _push(pages, click, wait_limit, clock)
        say(f"measuring push -> every page, {pushes} pushes")
        missing = clients - len(pages)
        rounds = [await _push(pages, click, wait_limit, clock, missing) for _ in range(pushes)]
        say(f"measuring the web backend's CPU, {quiet_seconds:g} s with no pushes")
        before, started = cpu_now(), clock()
        await asyncio.sleep(quiet_seconds)
        after, seconds = cpu_now(), clock() - started
    finally:
        await asyncio.gather(*(page.close() for page in pages))
    return WebFigures(
        merged(rounds),
        clients=clients,
        connected=len(pages),
        pushes=pushes,
        connect_seconds=connect_seconds,
        idle=IdleCpu(used_seconds(before, after, ticks_per_second()), seconds),
    )


async def _open_all(pages: list[Page], wait_limit: float) -> list[Page]:
    """Open the pages, `OPENING` at a time; those not open within `wait_limit` are dropped."""
    from swan.bench.browsers import PageError  # noqa: PLC0415

    gate = asyncio.Semaphore(OPENING)

    async def opened(page: Page) -> Page | None:
        async with gate:
            try:
                async with asyncio.timeout(wait_limit):
                    await page.open()
            except (TimeoutError, OSError, PageError) as error:
                log.warning("a page did not open: %s", error or "timed out")
                await page.close()
                return None
            return page

    return [page for page in await asyncio.gather(*map(opened, pages)) if page is not None]


async def _push(
    pages: Sequence[Page],
    click: Callable[[], None],
    wait_limit: float,
    clock: Callable[[], float],
    missing: int = 0,
) -> Latencies:
    """One click; wait until every page shows it (at most `wait_limit`), then a gap."""
    before = max((page.pushes or 0) for page in pages)
    sent_at = clock()
    click()
    waiting = [asyncio.ensure_future(page.wait_for_pushes(before + 1)) for page in pages]
    _, late = await asyncio.wait(waiting, timeout=wait_limit)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    await asyncio.sleep(GAP)
    return delivery_latencies(sent_at, before, [page.seen for page in pages], missing)
