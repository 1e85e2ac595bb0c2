"""`swan bench pi`: what the Pi client costs while it counts (target: <= 2 % of one core,
<= 60 MB).

A private local stack (as the rest of the bench), one push so that the countdown runs,
then `swan pi` in a child process, once per matrix: `recording` (no output at all) and
`terminal` writing to /dev/null (its colour blocks and the time left, redrawn every second).
The baseline is an idle MQTT 5 client in a child of its own (`python -m swan.bench.pi
idle`): the same awsiotsdk connection through the same gateway, subscribed to the button
shadow, and nothing else. After a warm-up, each child's CPU time, peak resident memory and
voluntary context switches (its wake-ups) are read from /proc over the same window.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from swan.adapters.mqtt import Endpoint
    from swan.bench.measured import Machine

SCHEMA: Final = "swan.bench.pi/1"
CPU_TARGET: Final = 2.0  # percent of one core
RSS_TARGET: Final = 60.0  # MB
SECONDS: Final = 20.0
QUICK_SECONDS: Final = 2.0
WARM_UP: Final = 2.0
START_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 10.0
MB: Final = 1024 * 1024
CONNECTED: Final = "connected"


class PiBenchError(SwanError, RuntimeError):
    def __init__(self, run: str, problem: str) -> None:
        self.run = run
        super().__init__(f"swan bench pi: the {run} run {problem}")


# ---------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcessSample:
    """What /proc says about a process at one moment."""

    cpu_seconds: float
    peak_rss_bytes: int
    voluntary_switches: int


def parse_sample(stat: str, status: str, ticks_per_second: int) -> ProcessSample:
    """`/proc/<pid>/stat` and `/proc/<pid>/status` -> CPU time (user + system, every thread),
    peak resident set (VmHWM) and voluntary context switches."""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    user, system = int(fields[11]), int(fields[12])  # fields 14 and 15 of the man page
    values = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        values[name] = value.split()
    return ProcessSample(
        cpu_seconds=(user + system) / ticks_per_second,
        peak_rss_bytes=int(values["VmHWM"][0]) * 1024,
        voluntary_switches=int(values["voluntary_ctxt_switches"][0]),
    )


def sample(pid: int) -> ProcessSample:
    proc = Path("/proc") / str(pid)
    return parse_sample(
        (proc / "stat").read_text(), (proc / "status").read_text(), os.sysconf("SC_CLK_TCK")
    )


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class PiRun:
    """One child measured over `seconds` of counting."""

    name: str
    seconds: float
    cpu_percent: float
    max_rss_mb: float
    wakeups_per_second: float
    baseline: bool = False

    @classmethod
    def between(
        cls, name: str, first: ProcessSample, last: ProcessSample, seconds: float, **kw: Any
    ) -> PiRun:
        return cls(
            name=name,
            seconds=seconds,
            cpu_percent=100 * (last.cpu_seconds - first.cpu_seconds) / seconds,
            max_rss_mb=last.peak_rss_bytes / MB,
            wakeups_per_second=(last.voluntary_switches - first.voluntary_switches) / seconds,
            **kw,
        )

    @property
    def mark(self) -> str | None:
        if self.baseline:
            return None
        ok = self.cpu_percent <= CPU_TARGET and self.max_rss_mb <= RSS_TARGET
        return "pass" if ok else "MISS"


@dataclass(frozen=True)
class PiBench:
    machine: Machine
    seconds: float
    runs: tuple[PiRun, ...]


def render_table(bench: PiBench) -> str:
    machine = bench.machine
    rows = [("run", "CPU % of a core", "max RSS MB", "wake-ups/s", "")]
    rows += [
        (
            run.name,
            f"{run.cpu_percent:.2f}",
            f"{run.max_rss_mb:.1f}",
            f"{run.wakeups_per_second:.1f}",
            run.mark or "baseline",
        )
        for run in bench.runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = [
        "  ".join(
            [row[0].ljust(widths[0]), *(row[i].rjust(widths[i]) for i in (1, 2, 3)), row[4]]
        ).rstrip()
        for row in rows
    ]
    lines = [
        f"The Swan bench: the Pi client while counting ({bench.seconds:g} s per run)",
        f"machine: {machine.cpu}, {machine.cores} cores, Python {machine.python}",
        "",
        *table,
        "",
        f"target: <= {CPU_TARGET:g} % of one core and <= {RSS_TARGET:g} MB, for each Pi run",
    ]
    return "\n".join(lines) + "\n"


def to_json(bench: PiBench) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "machine": asdict(bench.machine),
        "seconds": bench.seconds,
        "targets": {"cpu_percent": CPU_TARGET, "max_rss_mb": RSS_TARGET},
        "runs": [{**asdict(run), "mark": run.mark} for run in bench.runs],
    }


# ---------------------------------------------------------------- the runs


def run(seconds: float, say: Callable[[str], None]) -> PiBench:
    """Start a private stack, push once, measure the baseline and both Pi runs, stop."""
    from swan.bench.runner import BENCH_RULES, machine  # noqa: PLC0415
    from swan.local.ports import free_ports  # noqa: PLC0415
    from swan.local.stack import ANY_OTHER_PORT, LocalPorts, LocalStack  # noqa: PLC0415

    run_id = uuid.uuid4().hex[:8]
    with ExitStack() as cleanup:
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="swan-bench-")))
        say(f"starting a private local stack in {state} ...")
        stack = cleanup.enter_context(
            LocalStack(
                state,
                BENCH_RULES,
                certs_dir=state / "certs",
                ports=LocalPorts(*free_ports(4), **ANY_OTHER_PORT),
            )
        )
        _push(stack.device_endpoint(f"bench-pi-push-{run_id}"))
        runs = []
        children: Sequence[tuple[str, str, bool]] = (
            ("baseline: idle MQTT 5 client", "idle", True),
            ("pi, recording matrix", "recording", False),
            ("pi, terminal to /dev/null", "terminal", False),
        )
        for name, kind, baseline in children:
            endpoint = stack.device_endpoint(f"bench-pi-{kind}-{run_id}")
            command = _command(kind, endpoint, state, seconds)
            say(f"measuring {name} for {seconds:g} s ...")
            runs.append(_measure(name, command, seconds, baseline=baseline))
        say("stopping the private local stack ...")
    return PiBench(machine=machine(), seconds=seconds, runs=tuple(runs))


def _push(endpoint: Endpoint) -> None:
    """One push, as a device sends it: the countdown runs for the whole bench."""
    from swan.adapters.mqtt import connect  # noqa: PLC0415
    from swan.core.codecs import PushRequest  # noqa: PLC0415
    from swan.core.topics import BUTTON_SHADOW, push_topic  # noqa: PLC0415

    transport = connect(endpoint)
    try:
        written = threading.Event()
        transport.subscribe(BUTTON_SHADOW.update_documents, lambda _: written.set())
        request = PushRequest(uuid.uuid4().hex, "cli")
        payload = json.dumps(request.to_payload()).encode()
        transport.publish(push_topic(endpoint.client_id), payload).result(10)
        if not written.wait(10):
            raise PiBenchError("setup", "push never reached the button shadow")
    finally:
        transport.close()


def _command(kind: str, endpoint: Endpoint, state: Path, seconds: float) -> list[str]:
    files = [
        "--port", str(endpoint.port),
        "--ca", str(endpoint.ca_file),
        "--cert", str(endpoint.cert_file),
        "--key", str(endpoint.key_file),
    ]  # fmt: skip
    if kind == "idle":
        return [sys.executable, "-m", "swan.bench.pi", "idle", endpoint.client_id, *files]
    limit = seconds + WARM_UP + START_TIMEOUT  # stops by itself if the bench dies
    return [
        sys.executable, "-m", "swan",
        "--state-dir", str(state),
        "pi", "--thing", endpoint.client_id, "--matrix", kind, "--no-keys",
        "--exit-after", f"{limit:g}", *files,
    ]  # fmt: skip


def _measure(name: str, command: list[str], seconds: float, *, baseline: bool) -> PiRun:
    with subprocess.Popen(  # noqa: S603  (our own interpreter and modules)
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # the terminal matrix draws into nothing
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            _wait_connected(name, child)
            time.sleep(WARM_UP)  # imports and the first frames are not the steady state
            first = sample(child.pid)
            time.sleep(seconds)  # the measurement window itself
            last = sample(child.pid)
        finally:
            _stop(child)
        if child.returncode not in (0, -signal.SIGTERM):
            raise PiBenchError(name, f"ended with exit code {child.returncode}")
    return PiRun.between(name, first, last, seconds, baseline=baseline)


def _wait_connected(name: str, child: subprocess.Popen[str]) -> None:
    connected = threading.Event()
    assert child.stderr is not None  # noqa: S101  (a pipe, asked for above)

    def read(stream: IO[str]) -> None:
        for line in stream:
            if line.rstrip().endswith(f": {CONNECTED}"):
                connected.set()

    threading.Thread(target=read, args=(child.stderr,), daemon=True).start()
    if not connected.wait(START_TIMEOUT):
        raise PiBenchError(name, f"did not connect within {START_TIMEOUT:g} s")


def _stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(STOP_TIMEOUT)


# ---------------------------------------------------------------- the baseline child


def idle(argv: Sequence[str]) -> int:
    """`python -m swan.bench.pi idle THING --port N --ca F --cert F --key F`: an MQTT 5
    client, as the Pi's, following the button shadow and doing nothing else, until SIGTERM."""
    import argparse  # noqa: PLC0415

    from swan.adapters.mqtt import Endpoint  # noqa: PLC0415
    from swan.adapters.mqtt5 import Mqtt5Transport  # noqa: PLC0415
    from swan.core.port_numbers import port_argument  # noqa: PLC0415
    from swan.core.topics import BUTTON_SHADOW  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m swan.bench.pi idle")
    parser.add_argument("thing")
    for option in ("--ca", "--cert", "--key"):
        parser.add_argument(option, type=Path, required=True)
    parser.add_argument("--port", type=port_argument("--port"), required=True)
    args = parser.parse_args(argv)
    endpoint = Endpoint(
        "localhost", args.port, args.thing, ca_file=args.ca, cert_file=args.cert, key_file=args.key
    )
    stopped: list[int] = []  # a plain flag: an Event's set() in a handler can deadlock
    signal.signal(signal.SIGTERM, lambda number, _frame: stopped.append(number))

    def say_connected() -> None:
        sys.stderr.write(f"{args.thing}: {CONNECTED}\n")
        sys.stderr.flush()

    transport = Mqtt5Transport(endpoint, on_connected=say_connected)
    transport.subscribe(BUTTON_SHADOW.update_documents, lambda _: None)
    transport.start()
    while not stopped:  # awake now and then: a handler runs when the main thread runs
        time.sleep(0.25)
    transport.close()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["idle"]:
        sys.exit("usage: python -m swan.bench.pi idle THING --port N --ca F --cert F --key F")
    sys.exit(idle(sys.argv[2:]))
