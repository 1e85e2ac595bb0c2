"""Ports: are `swan up`'s free, and if not, who holds them; and free ones to choose.

A port already taken (another `swan up`, a Reflex left over, some other server) would
otherwise surface as a traceback from whichever part binds it first. Linux says who
listens where in /proc/net/tcp and tcp6 (the socket's inode) and /proc/<pid>/fd (which
process holds that inode); elsewhere, or without the rights to look, the error just says
the port is taken.

A free port for a server that another process will start (`free_ports`: the stack's parts
given port 0, the tests' and the bench's stacks) is chosen, then released, then bound by
that process. The kernel gives any socket that connects, or binds port 0, a port of its
ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): a port chosen there could be
taken in between by any connection of the machine. So the ports chosen here lie below that
range, at random (two runs side by side rarely meet), never twice in one process, and each
is checked free when chosen.
"""

from __future__ import annotations

import errno
import random
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping

PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column
# Ports chosen by `free_ports` lie in [LOWEST_CHOSEN, the ephemeral range's start): above
# the well-known and most registered servers' ports.
LOWEST_CHOSEN = 10_000
EPHEMERAL_START = 32_768  # Linux's default, where the range cannot be read
_handed_out: set[int] = set()  # never twice in one process, even if released unbound
_rng = random.Random()  # noqa: S311  (a port to listen on, not a secret)


class NoFreePortError(SwanError, OSError):
    def __init__(self, count: int, low: int, high: int) -> None:
        self.count = count
        super().__init__(f"cannot find {count} free TCP ports between {low} and {high}")


def free_ports(
    count: int, host: str = "127.0.0.1", proc: Path = PROC, rng: random.Random | None = None
) -> list[int]:
    """`count` distinct TCP ports on `host` that nothing holds now, at random below the
    ephemeral range (see the module's docstring); NoFreePortError if, after as many tries as
    the span has ports, too few were found."""
    low, high = LOWEST_CHOSEN, ephemeral_start(proc)
    pick = rng or _rng
    chosen: list[int] = []
    for _ in range(high - low):
        if len(chosen) == count:
            break
        port = pick.randrange(low, high)
        if port not in _handed_out and port not in chosen and _bindable(host, port):
            chosen.append(port)
    if len(chosen) < count:
        raise NoFreePortError(count, low, high - 1)
    _handed_out.update(chosen)
    return chosen


def free_port(host: str = "127.0.0.1", proc: Path = PROC) -> int:
    """One port of `free_ports`."""
    return free_ports(1, host, proc)[0]


def ephemeral_start(proc: Path = PROC) -> int:
    """The first port of the kernel's ephemeral range, or Linux's default if it cannot be
    read; never below LOWEST_CHOSEN + 1, so that `free_ports` has a span to choose in."""
    try:
        first = int((proc / "sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = EPHEMERAL_START
    return max(first, LOWEST_CHOSEN + 1)


class PortTakenError(SwanError, OSError):
    def __init__(self, what: str, host: str, port: int, holder: str | None) -> None:
        self.what = what
        self.port = port
        self.holder = holder
        by = f" by {holder}" if holder else ""
        super().__init__(
            f"port {port} ({what}) on {host} is already taken{by}; stop it, or choose"
            " other ports (SWAN_DEVICE_PORT, SWAN_IOT_DATA_PORT, SWAN_SCHEDULER_PORT,"
            " SWAN_IOT_PORT, SWAN_WEB_PORT, SWAN_COGNITO_PORT, SWAN_MQTT_WSS_PORT,"
            " SWAN_MQTT_WS_PORT; 0 means any free port)"
        )


def ensure_free(ports: Mapping[str, int], host: str = "127.0.0.1", proc: Path = PROC) -> None:
    """Raise PortTakenError for the first of `ports` (what it is for -> number; 0 = any)
    that cannot be bound on `host`."""
    for what, port in ports.items():
        if port and not _bindable(host, port):
            raise PortTakenError(what, host, port, holder(port, proc))


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def holder(port: int, proc: Path = PROC) -> str | None:
    """`pid 1234 (command line)` of the process listening on TCP `port`, if it can be told."""
    inodes = listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for fd_dir in proc.glob("[0-9]*/fd"):
        if wanted & _links(fd_dir):
            pid = fd_dir.parent.name
            return f"pid {pid} ({_command(fd_dir.parent)})"
    return None


def listening_inodes(port: int, proc: Path = PROC) -> set[str]:
    """The inodes of the sockets listening on TCP `port` (IPv4 and IPv6)."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(inode)
    return found


def _links(fd_dir: Path) -> set[str]:
    """What a process's descriptors point at (none if it is gone or not ours to look at)."""
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return set()
    links = set()
    for entry in entries:
        try:
            links.add(str(entry.readlink()))
        except OSError:
            continue  # closed meanwhile
    return links


def _command(process: Path) -> str:
    try:
        raw = (process / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"
