"""A child process of the local stack: output to a log file, ready when a check says so,
stopped by PID (never left behind, even when starting fails)."""

from __future__ import annotations

import logging
import subprocess
import time
from typing import TYPE_CHECKING

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

log = logging.getLogger(__name__)


class ChildFailedError(SwanError, RuntimeError):
    def __init__(self, name: str, problem: str, log_tail: str) -> None:
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
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
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
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as out:
            self._process = subprocess.Popen(  # noqa: S603  (our own programs)
                self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=self.env
            )
        try:
            self._wait(ready, timeout)
        except BaseException:
            self.stop()  # never leave a child behind
            raise
        log.info("%s started (pid %s)", self.name, self._process.pid)

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

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
