"""The CPU a process group uses, from /proc: the web backend is `reflex run` and its server
workers, one process group, and what it costs is the sum over its members.

`parse_stat` and `used_seconds` are pure; `group_ticks` reads /proc once.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessTicks:
    """One process: its group and the CPU it has used (user + system, clock ticks)."""

    pid: int
    group: int
    ticks: int


def parse_stat(text: str) -> ProcessTicks:
    """`/proc/<pid>/stat` -> pid, process group, utime + stime (fields 1, 5, 14 and 15)."""
    pid, _, rest = text.partition(" (")
    # The command name may hold spaces and parentheses: the fields resume after its last ")".
    fields = rest[rest.rindex(")") + 2 :].split()
    return ProcessTicks(int(pid), group=int(fields[2]), ticks=int(fields[11]) + int(fields[12]))


def used_seconds(
    before: Mapping[int, int], after: Mapping[int, int], ticks_per_second: int
) -> float:
    """CPU seconds the members used between two readings (pid -> ticks). A member that
    joined in between counts from zero; one that left is not counted (its last ticks are
    gone with it)."""
    used = sum(ticks - before.get(pid, 0) for pid, ticks in after.items())
    return max(used, 0) / ticks_per_second


def group_ticks(group: int, proc: Path = PROC) -> dict[int, int]:
    """Every member of process group `group` now, and the ticks it has used (pid -> ticks)."""
    members = {}
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):  # gone, or not a process
            process = parse_stat(stat.read_text())
            if process.group == group:
                members[process.pid] = process.ticks
    return members


def ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")
