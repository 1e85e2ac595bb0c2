"""(e) Push -> every page: the static page's path, through the gateway's WebSocket door.

No server of ours sits between the browsers and the broker: each page is its own Cognito
identity on its own SigV4-signed WebSocket (`swan.bench.pages`), and the broker fans a push
out to all of them through the door. At each size in turn (200, then 1,000 pages):

1. the baseline: as many direct subscribers (the same MQTT client on the broker's unix
   socket: no WebSocket, no signature, no gateway) open, follow the button shadow, hear
   the same pushes and then idle;
2. the pages do the same.

For each: the clients open, spread over worker processes (`swan.bench.page_worker`), and
each publishes its get on connect as the page does. The get answers take the button
shadow's budget (AWS: 20 requests a second per thing), so the pushes start once it has
refilled. A warm-up push, then `pushes` pushes one at a time: an IoT Button (mTLS, as a
real one) clicks, the push handler writes the shadow, and every client notes when the
documents message with the new count arrives; the next push waits until every client has it
(or the timeout), then a gap. Then `quiet_seconds` (by default one keep-alive of the page,
60 s) with the clients open and no pushes: the CPU the stack's process (the gateway and its
door live there) and Mosquitto used, and the bytes the clients sent and received (their
keep-alives, one each). Memory: both processes' resident sets with the clients open, less
what they held before the phase's first client. /proc is read by this process, which holds
no client but the button.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.bench import proc
from swan.bench.fanout import delivery_latencies, merged
from swan.bench.loops import BenchTimeoutError
from swan.bench.page_worker import OPENING, TICK
from swan.bench.report import FanOut, Idle, WebFigures, WebRun
from swan.core.codecs import ButtonClick
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Transport
    from swan.bench.page_worker import Setup

log = logging.getLogger(__name__)

WARM_UP: Final = 1  # pushes before the measured ones: the first of a run schedules its expiry
GAP: Final = 0.3  # seconds between one push's last delivery and the next (> a write slot)
# The button shadow takes 20 requests a second (a bucket of 20): after the clients' gets,
# the pushes wait this long for it to fill again, so that no push is throttled.
SHADOW_REFILL: Final = 1.0
# The idle spell starts this long after the last push: each client's keep-alive, counted
# from its acknowledgement of that push and looked at every TICK, then falls once inside a
# spell of one keep-alive.
IDLE_SETTLE: Final = TICK + 0.5
PAGES_PER_WORKER: Final = 250
WORKER_COMMAND: Final = (sys.executable, "-m", "swan.bench.page_worker")
ANSWER_SLACK: Final = 5.0  # on top of a worker's own bound, for its answer to arrive
STOP_WAIT: Final = 5.0


class WorkerError(SwanError, RuntimeError):
    """A worker holding (e)'s clients failed or answered something else."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"a page worker of (e) {problem}")


@dataclass(frozen=True)
class Watched:
    """The processes (e) reads from /proc: the stack's (the gateway) and Mosquitto's."""

    stack: int
    broker: int


def workers_for(sizes: Sequence[int]) -> int:
    """How many worker processes hold the clients: one per `PAGES_PER_WORKER` of the largest
    size (the same workers serve every size)."""
    return max(1, math.ceil(max(sizes, default=1) / PAGES_PER_WORKER))


def shares(count: int, workers: int) -> list[int]:
    """`count` clients spread over `workers` as evenly as they go."""
    return [count // workers + (1 if n < count % workers else 0) for n in range(workers)]


def longest(*, sizes: Sequence[int], pushes: int, timeout: float, quiet_seconds: float) -> float:
    """The longest `measure` takes once the workers run: at each size, twice (direct, then
    pages): the opening (each worker opens its share `OPENING` at a time, each client within
    `timeout`), the refill, every push (warm-up included) waiting at most `timeout` and a
    gap, the quiet spell, and the answers' slack."""
    workers = workers_for(sizes)
    total = 0.0
    for size in sizes:
        opening = math.ceil(max(shares(size, workers)) / OPENING) * timeout
        pushing = (WARM_UP + pushes) * (timeout + GAP + ANSWER_SLACK)
        idle = IDLE_SETTLE + quiet_seconds
        total += 2 * (opening + SHADOW_REFILL + pushing + idle + 4 * ANSWER_SLACK)
    return total


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
    command: Sequence[str] = WORKER_COMMAND,
) -> WebFigures:
    """At each size: the direct subscribers, then the pages (see the module's docstring)."""
    serial, device = button
    topic = f"iotbutton/{serial}"
    payload = json.dumps(ButtonClick(serial, "SINGLE", 1650).to_payload()).encode()

    def click() -> None:
        device.publish(topic, payload)

    phase = _Phase(setup, click, pushes, quiet_seconds, watched, prefix, say)
    return asyncio.run(phase.measure(sizes, command))


class _Worker:
    """One worker process and its command line (one JSON line each way)."""

    def __init__(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.process = process
        self.timeout = timeout

    @classmethod
    async def start(cls, command: Sequence[str], setup: Setup) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        worker = cls(process, setup.timeout)
        await worker._send(setup.to_json())
        return worker

    async def ask(self, command: dict[str, Any], bound: float) -> dict[str, Any]:
        """The worker's answer to `command`, which it gives within `bound` seconds."""
        await self._send(command)
        stdout = self.process.stdout
        if stdout is None:  # pragma: no cover - started with a pipe
            raise WorkerError("has no stdout")
        try:
            async with asyncio.timeout(bound + ANSWER_SLACK):
                line = await stdout.readline()
        except TimeoutError:
            what = f"answer from a page worker to {command['do']}"
            raise BenchTimeoutError(what, bound) from None
        if not line:
            raise WorkerError(f"exited (code {await self.process.wait()}) during {command['do']}")
        try:
            answer = json.loads(line)
        except ValueError as error:
            raise WorkerError(f"answered something else: {error}") from error
        if not isinstance(answer, dict):
            raise WorkerError("answered something else")
        return answer

    async def stop(self) -> None:
        stdin = self.process.stdin
        if stdin is not None:
            with contextlib.suppress(Exception):
                stdin.close()
        try:
            async with asyncio.timeout(STOP_WAIT + self.timeout):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def _send(self, document: dict[str, Any]) -> None:
        stdin = self.process.stdin
        if stdin is None:  # pragma: no cover - started with a pipe
            raise WorkerError("has no stdin")
        try:
            stdin.write((json.dumps(document) + "\n").encode())
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as error:
            raise WorkerError(f"is gone ({error})") from error


@dataclass
class _Phase:
    setup: Setup
    click: Callable[[], None]
    pushes: int
    quiet_seconds: float
    watched: Watched
    prefix: str
    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic  # CLOCK_MONOTONIC: the workers' clock too

    async def measure(self, sizes: Sequence[int], command: Sequence[str]) -> WebFigures:
        count = workers_for(sizes)
        self.say(f"starting {count} page worker{'s' if count > 1 else ''} ...")
        workers: list[_Worker] = []
        try:
            for _ in range(count):  # one at a time: each started one is stopped below
                workers.append(await _Worker.start(command, self.setup))  # noqa: PERF401
            runs = []
            zero = self._usage()  # before any client: what the clients' memory is counted from
            for size in sizes:
                direct = await self._fan_out(workers, "direct", size, zero)
                pages = await self._fan_out(workers, "page", size, zero)
                runs.append(WebRun(size, direct, pages))
        finally:
            await asyncio.gather(*(worker.stop() for worker in workers))
        return WebFigures(tuple(runs))

    async def _fan_out(
        self, workers: list[_Worker], kind: str, size: int, zero: tuple[proc.Usage, proc.Usage]
    ) -> FanOut:
        what = "pages" if kind == "page" else "direct subscribers"
        self.say(f"opening {size} {what} ...")
        timeout = self.setup.timeout
        split = shares(size, len(workers))
        opening_bound = math.ceil(max(split) / OPENING) * timeout
        began = self.clock()
        answers = await asyncio.gather(
            *(
                worker.ask(
                    {"do": "open", "kind": kind, "count": share, "prefix": f"{self.prefix}-{n}"},
                    opening_bound,
                )
                for n, (worker, share) in enumerate(zip(workers, split, strict=True))
            )
        )
        open_seconds = self.clock() - began
        after = self._usage()
        connected = sum(int(answer.get("opened", 0)) for answer in answers)
        gets: dict[str, int] = {}
        for answer in answers:
            for name, number in dict(answer.get("gets", {})).items():
                gets[str(name)] = gets.get(str(name), 0) + int(number)
        problems = [str(p) for answer in answers for p in answer.get("problems", [])]
        self.say(f"{connected} of {size} {what} open in {open_seconds:.1f} s")
        if problems:
            self.say(f"not opened: {problems[0]}")
        try:
            if connected == 0:
                raise BenchTimeoutError(f"{kind} open", timeout)
            await asyncio.sleep(SHADOW_REFILL)
            rounds = await self._push_all(workers, what)
            self.say(f"measuring {size} idle {what}, {self.quiet_seconds:g} s with no pushes")
            idle = await self._idle(workers)
        finally:
            closed = await asyncio.gather(*(w.ask({"do": "close"}, timeout) for w in workers))
        seen = [
            [(int(pushes), float(at)) for pushes, at in client]
            for answer in closed
            for client in answer.get("seen", [])
        ]
        missing = size - connected
        latencies = merged(
            [delivery_latencies(sent_at, count, seen, missing) for sent_at, count in rounds]
        )
        return FanOut(
            clients=size,
            connected=connected,
            open_seconds=open_seconds,
            gets=gets,
            pushes=self.pushes,
            push_to_client=latencies,
            stack_memory_bytes=after[0].rss_bytes - zero[0].rss_bytes,
            broker_memory_bytes=after[1].rss_bytes - zero[1].rss_bytes,
            idle=idle,
        )

    async def _push_all(self, workers: list[_Worker], what: str) -> list[tuple[float, int]]:
        """A warm-up push, then the measured ones: (when it was clicked, the count before)."""
        count = await self._push(workers, None)
        if count is None:
            raise BenchTimeoutError(f"documents message at any of the {what}", self.setup.timeout)
        self.say(f"measuring push -> every one of the {what}, {self.pushes} pushes")
        rounds = []
        for _ in range(self.pushes):
            sent_at = self.clock()
            after = await self._push(workers, count)
            rounds.append((sent_at, count))
            count = max(count, after or count)
        return rounds

    async def _push(self, workers: list[_Worker], above: int | None) -> int | None:
        """One click; wait until every client has seen a count above `above` (None: any),
        then a gap; the highest count seen."""
        self.click()
        threshold = -1 if above is None else above
        answers = await asyncio.gather(
            *(w.ask({"do": "wait", "above": threshold}, self.setup.timeout) for w in workers)
        )
        await asyncio.sleep(GAP)
        counts = [int(answer["most"]) for answer in answers if answer.get("most") is not None]
        return max(counts, default=None)

    async def _idle(self, workers: list[_Worker]) -> Idle:
        await asyncio.sleep(IDLE_SETTLE)
        counted = await self._bytes(workers)
        before, began = self._usage(), self.clock()
        await asyncio.sleep(self.quiet_seconds)
        after, seconds = self._usage(), self.clock() - began
        return Idle(
            seconds=seconds,
            bytes=await self._bytes(workers) - counted,
            stack_cpu_seconds=after[0].cpu_seconds - before[0].cpu_seconds,
            broker_cpu_seconds=after[1].cpu_seconds - before[1].cpu_seconds,
        )

    async def _bytes(self, workers: list[_Worker]) -> int:
        answers = await asyncio.gather(
            *(w.ask({"do": "counters"}, self.setup.timeout) for w in workers)
        )
        return sum(int(a.get("sent", 0)) + int(a.get("received", 0)) for a in answers)

    def _usage(self) -> tuple[proc.Usage, proc.Usage]:
        return proc.read(self.watched.stack), proc.read(self.watched.broker)
