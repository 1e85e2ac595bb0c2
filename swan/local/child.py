"""A child process of the local stack: output to a log file, ready when a check says so,
stopped by PID (never left behind, even when starting fails).

No child outlives the stack, however the stack ends (`spawn`, the one way it starts one):

- On Linux every child is tethered (`swan.local.tether`): SIGTERM when its parent dies,
  SIGKILL included. Linux sends it when the *thread* that forked the child ends, so every
  child is forked from one thread (`_Forker`) that ends only with the process.
- Every child runs in a session of its own: a terminal's Ctrl-C (SIGINT to the whole
  foreground group: `swan up | tee up.log`) reaches the stack alone, which then stops its
  children in order, rather than each child dying noisily under the others.
- A child that starts children of its own (`reflex export`: bun, vite) leads a process
  group: its tether stays as the group's leader and ends the whole group when it is told
  to stop or its parent dies (a death signal is not inherited). It is stopped as one:
  SIGTERM to the group, then, after a grace period, SIGKILL to whatever is left of it.

Elsewhere than Linux there is no death signal: children are stopped only by `stop`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from swan.adapters.private_files import open_private, private_directory
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

KILL_WAIT = 5.0  # after SIGKILL, how long to wait for the process to be reaped
GROUP_GRACE = 3.0  # a group's other members, after SIGTERM, before SIGKILL
TETHER: Final = Path(__file__).with_name("tether.py")
TETHERED: Final = sys.platform.startswith("linux")  # prctl(PR_SET_PDEATHSIG) is Linux's

_T = TypeVar("_T")


class ChildFailedError(SwanError, RuntimeError):
    def __init__(self, name: str, problem: str, log_tail: str) -> None:
        self.name = name
        self.problem = problem
        self.log_tail = log_tail
        super().__init__(f"{name} {problem}" + (f":\n{log_tail}" if log_tail else ""))


class ChildProcess:
    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_file: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        process_group: bool = False,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.process_group = process_group
        self._process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, ready: Callable[[ChildProcess], bool], timeout: float) -> None:
        """Start (unless `launch` already did), then wait until `ready(self)` (polled) or
        fail with the log's tail."""
        if self._process is None:
            self.launch()
        self.wait_ready(ready, timeout)

    def launch(self) -> None:
        """Start the process and return at once (`wait_ready` waits for it): several
        children then start side by side."""
        private_directory(self.log_file.parent)
        self._offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with os.fdopen(open_private(self.log_file, os.O_WRONLY | os.O_APPEND), "ab") as out:
            self._process = spawn(
                self.command,
                group=self.process_group,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.env,
                cwd=self.cwd,
            )

    def wait_ready(self, ready: Callable[[ChildProcess], bool], timeout: float) -> None:
        """Wait until the launched process is `ready(self)` (polled), or stop it and fail
        with its log's tail."""
        try:
            self._wait(ready, timeout)
        except BaseException:
            self.stop()  # never leave a child behind
            raise
        log.info("%s started (pid %s)", self.name, self.pid)

    def stop(self, timeout: float = 10.0, grace: float = 3.0) -> None:
        """SIGTERM, and SIGKILL if it is not gone within `timeout` seconds. A process group
        gets SIGTERM as a whole, `grace` more seconds for its other members, then SIGKILL."""
        process, self._process = self._process, None
        if process is None:
            return
        if self.process_group:
            _stop_group(process, timeout, grace)
            return
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(KILL_WAIT)

    def ended(self) -> str | None:
        """How the process ended, if it ended by itself ("exited with status 1", "was killed
        by SIGKILL"); None while it runs, and once `stop` has stopped it."""
        process = self._process
        if process is None or (status := process.poll()) is None:
            return None
        if status < 0:
            return f"was killed by {signal.Signals(-status).name}"
        return f"exited with status {status}"

    def output(self) -> str:
        """What the process wrote to its log since this start."""
        try:
            with self.log_file.open("rb") as stream:
                stream.seek(self._offset)
                return stream.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 8) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def _wait(self, ready: Callable[[ChildProcess], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self):
            if not self.running:
                raise ChildFailedError(self.name, "exited at start", self.tail())
            if time.monotonic() > deadline:
                raise ChildFailedError(self.name, f"was not ready in {timeout:g} s", self.tail())
            time.sleep(0.01)


def spawn(
    command: Sequence[str], *, group: bool = False, grace: float = GROUP_GRACE, **options: Any
) -> subprocess.Popen[Any]:
    """`subprocess.Popen(command, **options)` in a session of its own, tethered to this
    process (on Linux); with `group`, leading a process group that ends with it (the
    pid is the group's id). See the module docstring."""
    if TETHERED:
        leash = ["--group", f"{grace:g}"] if group else []
        command = [
            sys.executable,
            "-I",
            "-S",
            str(TETHER),
            str(os.getpid()),
            *leash,
            "--",
            *command,
        ]

    def start() -> subprocess.Popen[Any]:
        return subprocess.Popen(command, start_new_session=True, **options)  # noqa: S603

    started = _FORKER.submit(start)
    try:
        return started.result()
    except BaseException:
        # Interrupted (Ctrl-C) while the forker starts it: it must not outlive this call.
        started.add_done_callback(_kill_started)
        raise


def _kill_started(started: Future[subprocess.Popen[Any]]) -> None:
    if started.exception() is None:
        process = started.result()
        _signal_group(process.pid, signal.SIGKILL)  # its own group, led by it
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(KILL_WAIT)


class _Forker:
    """The one thread children are forked from: it waits on its queue until the process
    ends, so a child's death signal comes when the process dies, not when whichever
    thread asked for the child ends (a stack started from a short-lived thread)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forget)  # a forked copy has no thread

    def submit(self, job: Callable[[], _T]) -> Future[_T]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="swan-forker", daemon=True)
                self._thread.start()
        done: Future[_T] = Future()
        self._jobs.put((job, done))
        return done

    def _serve(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                done.set_result(job())
            except BaseException as error:  # noqa: BLE001  (handed to the caller)
                done.set_exception(error)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._thread = None
        self._jobs = queue.SimpleQueue()


_FORKER: Final = _Forker()


def _stop_group(leader: subprocess.Popen[bytes], timeout: float, grace: float) -> None:
    """Stop the process group `leader` leads; its members may outlive the leader a little."""
    group = leader.pid
    _signal_group(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        leader.wait(timeout)
    if not _gone(group, grace):
        _signal_group(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            leader.wait(KILL_WAIT)
        # Members whose parent died are reaped by init: a moment more.
        _gone(group, KILL_WAIT)


def _gone(group: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _signal_group(group: int, number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(group, number)


def _group_alive(group: int) -> bool:
    """Whether a member of the group still runs. A member whose parent died first is a
    zombie until init reaps it, which may take a while: zombies do not count."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (name) state ppid pgrp ...": the name may hold spaces, not ")".
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
            if int(pgrp) == group and state != "Z":
                return True
    return False
