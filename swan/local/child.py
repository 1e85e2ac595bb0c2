"""A child process of the local stack: output to a log file, ready when a check says so,
stopped by PID (never left behind, even when starting fails).

A child that starts children of its own (the web app: `reflex run` and its server workers)
runs as a process group of its own and is stopped as one: SIGTERM to the group, then,
after a grace period, SIGKILL to whatever is left of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from swan.adapters.private_files import open_private, private_directory
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

KILL_WAIT = 5.0  # after SIGKILL, how long to wait for the process to be reaped


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
        """Start, then wait until `ready(self)` (polled) or fail with the log's tail."""
        private_directory(self.log_file.parent)
        self._offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with os.fdopen(open_private(self.log_file, os.O_WRONLY | os.O_APPEND), "ab") as out:
            self._process = subprocess.Popen(  # noqa: S603  (our own programs)
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.env,
                cwd=self.cwd,
                # Its own process group (the leader's PID is the group's id), stopped as one.
                start_new_session=self.process_group,
            )
        try:
            self._wait(ready, timeout)
        except BaseException:
            self.stop()  # never leave a child behind
            raise
        log.info("%s started (pid %s)", self.name, self._process.pid)

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

    def signal(self, number: int) -> None:
        if self._process is not None:
            self._process.send_signal(number)

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
