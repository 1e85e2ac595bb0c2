"""What /proc says about one process of the stack: the CPU time it has used and the memory
it holds. web reads the stack's processes in front of the broker (its own, where the device
gateway runs, and the WebSocket door's) and Mosquitto's, from the load process, before and
after each spell it measures.

`parse_stat` and `parse_rss` are pure; `read` reads /proc once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROC: Final = Path("/proc")
KIB: Final = 1024


@dataclass(frozen=True)
class ProcessTicks:
    """One process: its group and the CPU it has used (user + system, clock ticks)."""

    pid: int
    group: int
    ticks: int


@dataclass(frozen=True)
class Usage:
    """One process at one moment: CPU time used (every thread) and resident memory."""

    cpu_seconds: float
    rss_bytes: int


def parse_stat(text: str) -> ProcessTicks:
    """`/proc/<pid>/stat` -> pid, process group, utime + stime (fields 1, 5, 14 and 15)."""
    pid, _, rest = text.partition(" (")
    # The command name may hold spaces and parentheses: the fields resume after its last ")".
    fields = rest[rest.rindex(")") + 2 :].split()
    return ProcessTicks(int(pid), group=int(fields[2]), ticks=int(fields[11]) + int(fields[12]))


def parse_rss(status: str) -> int:
    """`/proc/<pid>/status` -> the resident set now (VmRSS), in bytes."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == "VmRSS":
            return int(value.split()[0]) * KIB
    raise ValueError("no VmRSS in the status")  # a kernel thread, or not a status at all


def read(pid: int, proc: Path = PROC) -> Usage:
    """Process `pid` now (OSError if it is gone)."""
    where = proc / str(pid)
    ticks = parse_stat((where / "stat").read_text()).ticks
    return Usage(ticks / ticks_per_second(), parse_rss((where / "status").read_text()))


def ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")
