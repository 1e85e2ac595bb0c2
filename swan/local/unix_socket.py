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
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

RETRY: Final = 0.005  # seconds between tries while the backlog is full
P = TypeVar("P", bound=asyncio.BaseProtocol)


async def open_unix_connection(
    path: Path, *, within: float, retry: float = RETRY
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to the unix socket at `path`; TimeoutError if its listener's backlog stays
    full for `within` seconds, OSError as `connect` raises it otherwise."""
    sock = await _connected(path, within=within, retry=retry)
    try:
        return await asyncio.open_unix_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def connect_unix_protocol(
    path: Path, protocol: P, *, within: float, retry: float = RETRY
) -> P:
    """`protocol` connected to the unix socket at `path` (no stream in between), as
    `open_unix_connection` connects."""
    sock = await _connected(path, within=within, retry=retry)
    try:
        await asyncio.get_running_loop().create_unix_connection(lambda: protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return protocol


async def _connected(path: Path, *, within: float, retry: float) -> socket.socket:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(0.0)  # non-blocking
    try:
        while True:
            try:
                sock.connect(str(path))
            except BlockingIOError:
                if loop.time() >= deadline:
                    message = f"{path}: the listener's backlog stayed full for {within:g} s"
                    raise TimeoutError(message) from None
                await asyncio.sleep(retry)
            else:
                return sock
    except BaseException:
        sock.close()
        raise
