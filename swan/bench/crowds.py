"""Many clients following the button shadow, held by worker processes, and one fan-out
measured through them: what web `web`, `viewers` and `crowd` share.

The clients live in worker processes (`python -m swan.bench.page_worker`, a share each), so
that neither the stack nor the load process carries their parsing: they are not what is
measured. They share the machine with what they time, so they are kept lean
(`swan.bench.pages`): each is its socket's protocol, a worker decodes each distinct documents
message once and waits for its clients with one wait, not one per client.

A fan-out is: the clients open (each worker its share, `OPENING` at a time), a warm-up push
and then `pushes` pushes one at a time (an IoT Button clicks; every client notes when the
documents message with the new count arrives, on CLOCK_MONOTONIC, which every process of the
machine shares; the next push waits until every client has it, or the timeout, then a gap),
an idle spell with no pushes (the CPU of the watched processes and the bytes on the clients'
sockets), and the clients close. Memory: the watched processes' resident sets with the
clients open, less what they held before (`zero`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.bench import proc
from swan.bench.fanout import delivery_latencies, merged
from swan.bench.loops import BenchTimeoutError
from swan.bench.measured import FanOut, Idle
from swan.bench.page_worker import COMMAND_BYTES, OPENING, TICK, longest_open
from swan.core.codecs import ButtonClick
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from swan.adapters.mqtt import Transport
    from swan.bench.page_worker import Setup

WARM_UP: Final = 1  # pushes before the measured ones: the first of a run schedules its expiry
GAP: Final = 0.3  # seconds between one push's last delivery and the next (> a write slot)
# The button shadow takes 20 requests a second (a bucket of 20): after the clients' gets,
# the pushes wait this long for it to fill again, so that no push is throttled.
SHADOW_REFILL: Final = 1.0
# The idle spell starts this long after the last push: each client's keep-alive, counted
# from its acknowledgement of that push and looked at every TICK, then falls once inside a
# spell of one keep-alive.
IDLE_SETTLE: Final = TICK + 0.5
WORKER_COMMAND: Final = (sys.executable, "-m", "swan.bench.page_worker")
ANSWER_SLACK: Final = 5.0  # on top of a worker's own bound, for its answer to arrive
STOP_WAIT: Final = 5.0


class WorkerError(SwanError, RuntimeError):
    """A worker holding a phase's clients failed or answered something else."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"a client worker {problem}")


@dataclass(frozen=True)
class Watched:
    """The processes read from /proc: those in front of the clients (the stack's, where
    the device gateway runs, and the WebSocket door's; or a broker the clients reach
    directly), counted together, and the broker behind them."""

    front: tuple[int, ...]
    broker: int


def workers_for(sizes: Sequence[int], per_worker: int) -> int:
    """How many worker processes hold the clients: one per `per_worker` of the largest size
    (the same workers serve every size)."""
    return max(1, math.ceil(max(sizes, default=1) / per_worker))


def shares(count: int, workers: int) -> list[int]:
    """`count` clients spread over `workers` as evenly as they go."""
    return [count // workers + (1 if n < count % workers else 0) for n in range(workers)]


def opening_bound(size: int, workers: int, timeout: float) -> float:
    """The longest `size` clients take to open: each worker opens its share `OPENING` at a
    time, each client within `longest_open(timeout)`."""
    return share_opening_bound(max(shares(size, workers)), timeout)


def share_opening_bound(share: int, timeout: float) -> float:
    """The longest one worker takes to open its `share` of the clients, `OPENING` at a time."""
    return math.ceil(share / OPENING) * longest_open(timeout)


def fan_out_bound(
    size: int, workers: int, *, pushes: int, timeout: float, quiet_seconds: float
) -> float:
    """The longest one fan-out takes once the workers run: opening, the refill, every push
    (warm-up included) waiting at most `timeout` and a gap, the quiet spell, the answers."""
    pushing = (WARM_UP + pushes) * (timeout + GAP + ANSWER_SLACK)
    idle = IDLE_SETTLE + quiet_seconds
    return opening_bound(size, workers, timeout) + SHADOW_REFILL + pushing + idle + 4 * ANSWER_SLACK


def clicker(button: tuple[str, Transport]) -> Callable[[], None]:
    """One IoT Button click (its hardware payload) by `button`, per call."""
    serial, device = button
    topic = f"iotbutton/{serial}"
    payload = json.dumps(ButtonClick(serial, "SINGLE", 1650).to_payload()).encode()

    def click() -> None:
        device.publish(topic, payload)

    return click


class WorkerProcess:
    """One worker process and its command line (one JSON line each way)."""

    def __init__(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.process = process
        self.timeout = timeout

    @classmethod
    async def start(cls, command: Sequence[str], setup: Setup) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=COMMAND_BYTES,  # a close answers with every arrival of thousands of clients
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
            what = f"answer from a client worker to {command['do']}"
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


@contextlib.asynccontextmanager
async def started_workers(
    count: int, setup: Setup, say: Callable[[str], None], command: Sequence[str]
) -> Any:
    """`count` worker processes, each stopped when the block ends."""
    say(f"starting {count} client worker{'s' if count > 1 else ''} ...")
    workers: list[WorkerProcess] = []
    try:
        for _ in range(count):  # one at a time: each started one is stopped below
            workers.append(await WorkerProcess.start(command, setup))  # noqa: PERF401
        yield workers
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))


@dataclass
class Crowd:
    """The workers, the button that pushes, and how each fan-out is measured."""

    workers: list[WorkerProcess]
    click: Callable[[], None]
    pushes: int
    quiet_seconds: float
    timeout: float
    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic  # CLOCK_MONOTONIC: the workers' clock too

    async def fan_out(
        self,
        opens: Sequence[dict[str, Any] | None],
        what: str,
        watched: Watched,
        zero: tuple[proc.Usage, proc.Usage],
    ) -> FanOut:
        """Open the clients (`opens`: each worker's open command, None for none), push,
        idle, close: one fan-out, its clients counted from the open answers."""
        size = sum(_count(command) for command in opens)
        self.say(f"opening {size} {what} ...")
        split = [_count(command) for command in opens]
        bound = share_opening_bound(max(split, default=0), self.timeout)
        began = self.clock()
        answers = await asyncio.gather(
            *(
                worker.ask(command, bound)
                for worker, command in zip(self.workers, opens, strict=True)
                if command is not None
            )
        )
        open_seconds = self.clock() - began
        after = usage(watched)
        connected = sum(int(answer.get("opened", 0)) for answer in answers)
        retried = sum(int(answer.get("retried", 0)) for answer in answers)
        gets: dict[str, int] = {}
        for answer in answers:
            for name, number in dict(answer.get("gets", {})).items():
                gets[str(name)] = gets.get(str(name), 0) + int(number)
        problems = [str(p) for answer in answers for p in answer.get("problems", [])]
        self.say(f"{connected} of {size} {what} open in {open_seconds:.1f} s ({retried} retries)")
        if problems:
            self.say(f"not opened: {problems[0]}")
        try:
            if connected == 0:
                raise BenchTimeoutError(f"{what} open", self.timeout)
            await asyncio.sleep(SHADOW_REFILL)
            rounds = await self._push_all(what)
            self.say(f"measuring {size} idle {what}, {self.quiet_seconds:g} s with no pushes")
            idle = await self._idle(watched)
        finally:
            closed = await asyncio.gather(
                *(w.ask({"do": "close"}, self.timeout) for w in self.workers)
            )
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
            retried=retried,
            gets=gets,
            pushes=self.pushes,
            push_to_client=latencies,
            stack_memory_bytes=after[0].rss_bytes - zero[0].rss_bytes,
            broker_memory_bytes=after[1].rss_bytes - zero[1].rss_bytes,
            idle=idle,
        )

    async def _push_all(self, what: str) -> list[tuple[float, int]]:
        """A warm-up push, then the measured ones: (when it was clicked, the count before)."""
        count = await self._push(None)
        if count is None:
            raise BenchTimeoutError(f"documents message at any of the {what}", self.timeout)
        self.say(f"measuring push -> every one of the {what}, {self.pushes} pushes")
        rounds = []
        for _ in range(self.pushes):
            sent_at = self.clock()
            after = await self._push(count)
            rounds.append((sent_at, count))
            count = max(count, after or count)
        return rounds

    async def _push(self, above: int | None) -> int | None:
        """One click; wait until every client has seen a count above `above` (None: any),
        then a gap; the highest count seen."""
        self.click()
        threshold = -1 if above is None else above
        answers = await asyncio.gather(
            *(w.ask({"do": "wait", "above": threshold}, self.timeout) for w in self.workers)
        )
        await asyncio.sleep(GAP)
        counts = [int(answer["most"]) for answer in answers if answer.get("most") is not None]
        return max(counts, default=None)

    async def _idle(self, watched: Watched) -> Idle:
        await asyncio.sleep(IDLE_SETTLE)
        counted = await self._bytes()
        before, began = usage(watched), self.clock()
        await asyncio.sleep(self.quiet_seconds)
        after, seconds = usage(watched), self.clock() - began
        return Idle(
            seconds=seconds,
            bytes=await self._bytes() - counted,
            stack_cpu_seconds=after[0].cpu_seconds - before[0].cpu_seconds,
            broker_cpu_seconds=after[1].cpu_seconds - before[1].cpu_seconds,
        )

    async def _bytes(self) -> int:
        answers = await asyncio.gather(
            *(w.ask({"do": "counters"}, self.timeout) for w in self.workers)
        )
        return sum(int(a.get("sent", 0)) + int(a.get("received", 0)) for a in answers)


def usage(watched: Watched, where: Path = proc.PROC) -> tuple[proc.Usage, proc.Usage]:
    """The watched processes now, from /proc: those in front summed, and the broker."""
    front = [proc.read(pid, where) for pid in watched.front]
    summed = proc.Usage(sum(u.cpu_seconds for u in front), sum(u.rss_bytes for u in front))
    return summed, proc.read(watched.broker, where)


def _count(command: dict[str, Any] | None) -> int:
    if command is None:
        return 0
    parts = command.get("parts")
    if isinstance(parts, list):
        return sum(_count(part) for part in parts)
    devices = command.get("devices")
    if isinstance(devices, dict):
        return len(devices.get("logins", []))
    return int(command.get("count", 0))
