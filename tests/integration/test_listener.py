"""The gateway's listener: silent connections are bounded in number and time and make room
for newer ones; a client that speaks gets through, its first bytes intact, with or without
TLS, however many silent ones wait beside it."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

import pytest

from swan.adapters import event_loop
from swan.certs.files import CertificateStore
from swan.local.listener import Bounds, Listener

WAIT = 5.0


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.read(100)
    writer.write(b"got " + data)
    await writer.drain()
    writer.close()


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes this connection (EOF, or a reset: closed with our bytes
    unread) within WAIT."""
    try:
        return await asyncio.wait_for(reader.read(1), WAIT) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


@pytest.fixture(autouse=True, params=["uvloop", "asyncio"])
def loop_kind(request, monkeypatch):
    """Every test on both event loops the gateway runs on: uvloop brings its own TLS."""
    monkeypatch.setenv("SWAN_EVENT_LOOP", request.param)


def run(scenario):
    return event_loop.run(asyncio.wait_for(scenario(), 30))


def test_a_client_that_speaks_is_handed_on_with_its_first_bytes():
    async def scenario():
        listener = await Listener.open("127.0.0.1", 0, echo)
        port = listener.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello")
            answer = await asyncio.wait_for(reader.read(100), WAIT)
            writer.close()
        finally:
            listener.close()
        return answer

    assert run(scenario) == b"got hello"


def test_a_silent_connection_is_closed_after_its_time():
    async def scenario():
        quick = Bounds(per_source=8, total=8, seconds=0.2)
        listener = await Listener.open("127.0.0.1", 0, echo, arriving=quick)
        port = listener.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            gone = await closed(reader)
            writer.close()
        finally:
            listener.close()
        return gone, listener.refused

    assert run(scenario) == (True, 1)


def test_past_the_bound_the_oldest_silent_connection_makes_room():
    async def scenario():
        small = Bounds(per_source=3, total=100, seconds=30)
        listener = await Listener.open("127.0.0.1", 0, echo, arriving=small)
        port = listener.sockets[0].getsockname()[1]
        try:
            silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            await asyncio.sleep(0.1)  # all three accepted and waiting
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            oldest_gone = await closed(silent[0][0])
            writer.write(b"me")  # the newest speaks and gets through
            answer = await asyncio.wait_for(reader.read(100), WAIT)
            for _, w in [*silent, (reader, writer)]:
                w.close()
        finally:
            listener.close()
        return oldest_gone, answer, listener.arriving.evicted, len(listener.arriving)

    oldest_gone, answer, evicted, waiting = run(scenario)
    assert oldest_gone
    assert answer == b"got me"
    assert evicted == 1
    assert waiting == 2  # the two younger silent ones still wait


def test_a_tls_client_gets_in_while_silent_connections_fill_the_listener(tmp_path):
    certs = CertificateStore(tmp_path / "certs")
    certs.ensure_server(now=datetime.now(UTC))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.server_files.certificate, certs.server_files.key)
    client = ssl.create_default_context(cafile=certs.ca_files.certificate)

    async def scenario():
        small = Bounds(per_source=20, total=20, seconds=30)
        listener = await Listener.open("127.0.0.1", 0, echo, server, arriving=small)
        port = listener.sockets[0].getsockname()[1]
        try:
            flood = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost"),
                WAIT,
            )
            writer.write(b"device")
            answer = await asyncio.wait_for(reader.read(100), WAIT)
            for _, w in [*flood, (reader, writer)]:
                w.close()
        finally:
            listener.close()
        return answer, listener.arriving.evicted, len(listener.arriving)

    answer, evicted, waiting = run(scenario)
    assert answer == b"got device"
    assert evicted >= 30  # 50 silent ones through a stage of 20
    assert waiting <= 20


def test_a_tls_listener_makes_no_tls_for_a_client_that_is_gone_or_not_tls(tmp_path):
    certs = CertificateStore(tmp_path / "certs")
    certs.ensure_server(now=datetime.now(UTC))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.server_files.certificate, certs.server_files.key)

    async def scenario():
        listener = await Listener.open("127.0.0.1", 0, echo, server)
        port = listener.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\n\r\n")  # plain text on the TLS port
            refused_plain = await closed(reader)
            _, gone = await asyncio.open_connection("127.0.0.1", port)
            gone.close()  # connected, then left before a byte
            async with asyncio.timeout(WAIT):
                while listener.refused < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        finally:
            listener.close()
        return refused_plain, listener.refused, len(listener.handshaking)

    assert run(scenario) == (True, 2, 0)
