"""Connecting to a unix socket from asyncio when its listener is busy.

Mosquitto listens on its unix sockets with a backlog of 10. While that backlog is full,
Linux answers a non-blocking connect with EAGAIN, which `asyncio.open_unix_connection` takes
for "in progress": it hands back a socket that never connected, and the first write fails
(ENOTCONN). A burst of clients (a thousand pages opening, each piped to the broker by the
gateway) hits it. Here EAGAIN means what it says: try again shortly, within a bound.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

RETRY: Final = 0.005  # seconds between tries while the backlog is full


async def open_unix_connection(
    path: Path, *, within: float, retry: float = RETRY
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the unix socket at `path`; TimeoutError if its listener's backlog
    stays full for `within` seconds, OSError as `connect` raises it otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(0.0)  # non-blocking
    try:
        while True:
            try:
                sock.connect(str(path))
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    message = f"{path}: the listener's backlog stayed full for {within:g} s"
                    raise TimeoutError(message) from None
                await asyncio.sleep(retry)
        return await asyncio.open_unix_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
