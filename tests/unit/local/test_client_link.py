"""A door's connection read as a stream, then tapped (swan.local.client_link), on real socket
pairs: what was held and not read is handed back by the tap, what comes after goes to the
receiver in order, its end is told once however it ends, and the writer works throughout."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tap_support import Collector, door_stream

from swan.local.client_link import ClientStream, tappable

WAIT = 5.0


async def door_connection():
    """A connection as a door makes it (`TappableProtocol`), and the peer's raw socket."""
    near, far = socket.socketpair()
    far.setblocking(False)
    reader, writer = await door_stream(near)
    return ClientStream(reader, writer), writer, far


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))


def test_read_as_a_stream_then_tapped_nothing_is_lost_or_reordered():
    async def scenario():
        loop = asyncio.get_running_loop()
        stream, _, peer = await door_connection()
        await loop.sock_sendall(peer, b"CONNECT" + b"held-1")
        first = await stream.readexactly(len(b"CONNECT"))
        await loop.sock_sendall(peer, b"held-2")
        await asyncio.sleep(0.05)  # the reader holds both, unread
        collector = Collector()
        held = await stream.tap(collector)
        for piece in (b"after-1", b"after-2", b"after-3"):
            await loop.sock_sendall(peer, piece)
        await collector.until(lambda: len(collector.data) == len(b"after-1after-2after-3"))
        return first, held, bytes(collector.data), collector.ends

    assert run(scenario) == (b"CONNECT", b"held-1held-2", b"after-1after-2after-3", 0)


@pytest.mark.parametrize("how", ["half-closed first", "closed at once"])
def test_the_peers_end_is_told_once(how):
    async def scenario():
        stream, writer, peer = await door_connection()
        collector = Collector()
        assert await stream.tap(collector) == b""
        if how == "half-closed first":
            peer.shutdown(socket.SHUT_WR)
        peer.close()
        await collector.until(lambda: collector.ends > 0)
        writer.close()  # as the relay closes it: the connection is lost, and not told again
        await asyncio.wait_for(writer.wait_closed(), WAIT)
        return collector.ends

    assert run(scenario) == 1


def test_a_connection_ended_before_the_tap_hands_back_what_it_sent_then_its_end():
    async def scenario():
        loop = asyncio.get_running_loop()
        stream, _, peer = await door_connection()
        await loop.sock_sendall(peer, b"last words")
        peer.close()
        await asyncio.sleep(0.05)
        collector = Collector()
        held = await stream.tap(collector)
        ends_at_once = collector.ends
        await collector.until(lambda: collector.ends > 0)
        return held, ends_at_once, collector.ends

    assert run(scenario) == (b"last words", 0, 1)


def test_the_writer_still_writes_drains_and_closes_once_tapped():
    async def scenario():
        loop = asyncio.get_running_loop()
        stream, writer, peer = await door_connection()
        collector = Collector()
        await stream.tap(collector)
        writer.write(b"x" * 1_000_000)  # far past the writer's high-water mark
        draining = asyncio.create_task(writer.drain())
        heard = bytearray()
        async with asyncio.timeout(WAIT):
            while len(heard) < 1_000_000:
                heard += await loop.sock_recv(peer, 65536)
        await draining
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), WAIT)
        await collector.until(lambda: collector.ends > 0)
        return len(heard), collector.ends

    assert run(scenario) == (1_000_000, 1)


def test_only_a_doors_connection_can_be_tapped():
    async def scenario():
        near, far = socket.socketpair()
        with far:
            _, writer = await asyncio.open_connection(sock=near)
            try:
                with pytest.raises(TypeError, match="StreamReaderProtocol"):
                    tappable(writer)
            finally:
                writer.close()

    run(scenario)
