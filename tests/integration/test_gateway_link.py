"""The broker's side of a piped client (swan.local.gateway_link.BrokerLink) on real socket
pairs: what the broker sends reaches the client whole and in order, the broker is not read
while the client does not read, and the broker closing closes the client."""

from __future__ import annotations

import asyncio
import socket

from swan.local.gateway_link import BrokerLink

WAIT = 5.0
BIG = 256 * 1024


class Peer:
    """The far end of a socket pair: what it received, read only when asked."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.received = bytearray()

    async def read_until(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            while len(self.received) < size:
                self.received += await loop.sock_recv(self.sock, 65536)
        return bytes(self.received)

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)


async def connected(protocol_factory):
    """A transport on one end of a socket pair (its protocol from the factory), and the peer."""
    near, far = socket.socketpair()
    transport, protocol = await asyncio.get_running_loop().connect_accepted_socket(
        protocol_factory, near
    )
    return transport, protocol, Peer(far)


class Sink(asyncio.Protocol):
    """A client's stream as the broker link sees it: a transport to write to."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.paused = asyncio.Event()
        self.resumed = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport

    def pause_writing(self):
        self.paused.set()

    def resume_writing(self):
        self.resumed.set()

    def write(self, data):
        self.transport.write(data)

    async def drain(self):
        while self.transport.get_write_buffer_size() > self.transport.get_write_buffer_limits()[0]:
            self.resumed.clear()
            await self.resumed.wait()

    def close(self):
        self.transport.close()


def passing_to(client):
    """A stand-in for the gateway's framing: every byte is a whole packet, passed on."""

    def pass_on(data, _link):
        client.write(data)
        return len(data), None

    return pass_on


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), WAIT * 3))


def test_what_the_broker_sends_reaches_the_client_in_order_and_the_broker_waits_for_a_slow_client():
    async def scenario():
        _, client, client_peer = await connected(Sink)
        link = BrokerLink(client, passing_to(client), lambda _ending: None)
        broker_transport, _, broker_peer = await connected(lambda: link)
        payload = bytes(n % 251 for n in range(4 * BIG))
        sending = asyncio.create_task(broker_peer.send(payload))  # the client reads nothing yet
        await asyncio.wait_for(client.paused.wait(), WAIT)  # its buffer is over the mark ...
        broker_paused = not broker_transport.is_reading()  # ... so the broker is not read
        received = await client_peer.read_until(len(payload))  # the client reads: all comes
        await sending
        return broker_paused, received, payload

    broker_paused, received, payload = run(scenario)
    assert broker_paused
    assert received == payload


def test_the_broker_closing_closes_the_client_and_ends_the_link():
    async def scenario():
        client_transport, client, client_peer = await connected(Sink)
        link = BrokerLink(client, passing_to(client), lambda _ending: None)
        _, _, broker_peer = await connected(lambda: link)
        await broker_peer.send(b"last words")
        broker_peer.sock.close()
        await asyncio.wait_for(link.closed, WAIT)
        received = await client_peer.read_until(len(b"last words"))
        return received, client_transport.is_closing()

    assert run(scenario) == (b"last words", True)
