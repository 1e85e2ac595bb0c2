"""One phase's load in a child process (`python -m swan.bench.load`), bounded in time.

The job goes to the child's stdin; its progress lines (stderr) are passed on as they come;
its answer (stdout) is read whole and parsed into the phase's figures. A child that
outlives the job's time limit is killed, and the bench stops with an error that says so.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections import deque
from typing import IO, TYPE_CHECKING, Any, ClassVar, Final, Protocol, TypeVar, cast

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

F = TypeVar("F")
F_co = TypeVar("F_co", covariant=True)


class Job(Protocol[F_co]):
    """What `run` needs of a job (see `swan.bench.jobs`): it answers with figures `F_co`."""

    PHASE: ClassVar[str]

    @property
    def time_limit(self) -> float: ...

    def to_json(self) -> dict[str, Any]: ...

    def figures_from_json(self, document: object) -> F_co: ...


LOAD_COMMAND: Final = (sys.executable, "-m", "swan.bench.load")
KILL_WAIT: Final = 5.0  # after a kill, how long to wait for the child to be gone
REASON_LINES: Final = 3  # the child's last stderr lines that explain a failure


class LoadProcessError(SwanError, RuntimeError):
    """The load process of a phase failed, or answered something that is not its figures."""

    def __init__(self, phase: str, problem: str) -> None:
        self.phase = phase
        self.problem = problem
        super().__init__(f"the load process of the {phase} phase {problem}")


class LoadTimeoutError(LoadProcessError, TimeoutError):
    """The load process of a phase ran past its time limit and was killed."""

    def __init__(self, phase: str, time_limit: float) -> None:
        self.time_limit = time_limit
        super().__init__(phase, f"did not finish within {time_limit:g} s and was killed")


def run(
    job: Job[F],
    say: Callable[[str], None],
    *,
    time_limit: float | None = None,
    command: Sequence[str] = LOAD_COMMAND,
) -> F:
    """Run `job` in a child process and return its figures (`time_limit`: the job's own)."""
    limit = job.time_limit if time_limit is None else time_limit
    last_lines: deque[str] = deque(maxlen=REASON_LINES)
    answer: list[str] = []
    with subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        # All three are pipes: none of them is None.
        readers = [
            _reader(cast("IO[str]", process.stderr), lambda line: _say(line, say, last_lines)),
            _reader(cast("IO[str]", process.stdout), answer.append),
        ]
        try:
            _send(cast("IO[str]", process.stdin), job.to_json())
            process.wait(limit)
        except subprocess.TimeoutExpired:
            raise LoadTimeoutError(job.PHASE, limit) from None
        finally:
            if process.poll() is None:  # timed out, or this process was interrupted
                process.kill()
                process.wait(KILL_WAIT)
            for reader in readers:
                reader.join(KILL_WAIT)
    if process.returncode != 0:
        reason = " / ".join(last_lines) or "no message"
        raise LoadProcessError(job.PHASE, f"failed (exit code {process.returncode}): {reason}")
    try:
        return job.figures_from_json(json.loads("".join(answer)))
    except ValueError as error:  # not JSON, or not the figures
        raise LoadProcessError(job.PHASE, f"answered something else: {error}") from error


def _send(stdin: IO[str], job: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError):  # it died at once: its exit code says why
        try:
            stdin.write(json.dumps(job))
        finally:
            stdin.close()


def _reader(stream: IO[str], take: Callable[[str], None]) -> threading.Thread:
    def read() -> None:
        for line in stream:
            take(line)

    thread = threading.Thread(target=read, name="swan-bench-load-reader", daemon=True)
    thread.start()
    return thread


def _say(line: str, say: Callable[[str], None], kept: deque[str]) -> None:
    text = line.rstrip("\n")
    kept.append(text)
    say(text)
