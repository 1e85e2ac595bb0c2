"""A bench client (`swan.bench.pages.Session`) on a real socket: it is the socket's protocol,
so what the other side does reaches it as it happens: a hang-up ends it with a reason, and
the wait for a push does not wait for it."""

from __future__ import annotations

import asyncio
import json

import pytest

from swan.bench import page_wire
from swan.bench.pages import Audience, PageError, Session
from swan.core.topics import BUTTON_SHADOW
from swan.local.core.mqtt_packets import encode_remaining_length

CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


def suback(packet_id: int, granted: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + bytes((1,)) * granted
    return bytes((0x90,)) + encode_remaining_length(len(body)) + body


def documents(pushes: int) -> bytes:
    snapshot = {"state": {"reported": {"pushes": pushes}}, "metadata": {}, "version": pushes}
    payload = {"previous": None, "current": snapshot, "timestamp": 1_700_000_000}
    return json.dumps(payload).encode()


async def serve(path, answer):
    """A unix socket server at `path` whose every client is handled by `answer`."""

    async def handle(reader, writer):
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


def test_a_client_whose_server_hangs_up_before_its_connack_says_so(tmp_path):
    async def hang_up(reader, _writer):
        await reader.read(1)

    async def scenario():
        server = await serve(tmp_path / "broker.sock", hang_up)
        async with server:
            session = Session("direct-0")
            with pytest.raises(PageError, match="direct-0 lost its connection"):
                async with asyncio.timeout(10):
                    await session.open_direct(tmp_path / "broker.sock", "user", "secret")
            await session.close()
            return session.alive, session.past(0)

    assert asyncio.run(scenario()) == (False, True)


def test_a_device_sees_its_pushes_acknowledges_them_and_ends_when_the_server_does(tmp_path):
    """As a device: CONNECT, one SUBSCRIBE, then what the broker sends."""
    acknowledged = asyncio.Event()
    heard = bytearray()

    async def broker(reader, writer):
        framer = page_wire.Framer()
        waiting: list[tuple[int, bytes]] = []

        async def next_packet():
            while not waiting:
                waiting.extend(framer.feed(await reader.read(4096)))
            first, _ = waiting.pop(0)
            heard.append(first)

        await next_packet()  # CONNECT
        writer.write(CONNACK_ACCEPTED)
        await next_packet()  # SUBSCRIBE
        writer.write(suback(1, 1))
        for n, pushes in enumerate((4, 5), start=1):
            topic = BUTTON_SHADOW.update_documents
            writer.write(page_wire.publish_packet(topic, documents(pushes), packet_id=n))
        await next_packet()  # a PUBACK
        await next_packet()  # the other
        acknowledged.set()
        # and hang up

    async def scenario():
        server = await serve(tmp_path / "broker.sock", broker)
        async with server:
            loop = asyncio.get_running_loop()
            session = Session("viewer-0", audience=Audience())
            await loop.create_unix_connection(lambda: session, str(tmp_path / "broker.sock"))
            async with asyncio.timeout(10):
                await session._connect()
                await session._subscribe(((BUTTON_SHADOW.update_documents, 1),))
                await acknowledged.wait()
                await session._audience.wait_past([session], 99, within=10)
            pushes = [p for p, _ in session.seen]
            alive = session.alive
            await session.close()
            return pushes, alive, session._failed

    pushes, alive, failed = asyncio.run(scenario())
    assert pushes == [4, 5]
    assert list(heard) == [0x10, 0x82, 0x40, 0x40]  # CONNECT, SUBSCRIBE, two PUBACKs
    assert not alive
    assert "lost its connection" in str(failed)


def test_closing_a_client_whose_server_reads_nothing_drops_it_instead_of_waiting(tmp_path):
    stalled = asyncio.Event()

    async def read_nothing(_reader, _writer):
        await stalled.wait()

    async def scenario():
        server = await serve(tmp_path / "broker.sock", read_nothing)
        async with server:
            session = Session("direct-0")
            loop = asyncio.get_running_loop()
            await loop.create_unix_connection(lambda: session, str(tmp_path / "broker.sock"))
            session.send(b"\x00" * 16_000_000)  # far more than the sockets hold: it stays
            async with asyncio.timeout(10):  # a close that waited for it would never end
                await session.close(within=0.2)
            stalled.set()
            return session.alive, session.past(0)

    assert asyncio.run(scenario()) == (False, True)
