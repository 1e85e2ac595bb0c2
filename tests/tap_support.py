"""Helpers for the tests of a door's tapped connections (swan.local.client_link)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from swan.local.client_link import TappableProtocol

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

WAIT = 5.0


@dataclass
class Collector:
    """A receiver of a tapped connection: what it was given, and how many ends."""

    data: bytearray = field(default_factory=bytearray)
    ends: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, data: bytes) -> None:
        self.data += data
        self.arrived.set()

    def ended(self) -> None:
        self.ends += 1
        self.arrived.set()

    async def until(self, check: Callable[[], bool]) -> None:
        """Until `check()` holds, within `WAIT` seconds."""
        async with asyncio.timeout(WAIT):
            while not check():
                self.arrived.clear()
                await self.arrived.wait()


async def door_stream(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream on `sock` as a door makes it: its protocol can be tapped."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, protocol = await loop.connect_accepted_socket(lambda: TappableProtocol(reader), sock)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
