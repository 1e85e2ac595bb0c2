"""Connecting to a unix socket whose listener's backlog is full, as the gateway connects each
client to Mosquitto (which listens with a backlog of 10) when many arrive at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from swan.local.unix_socket import open_unix_connection

MOST_PENDING = 16  # connects a listener with a backlog of 1 holds, at most, before EAGAIN


@contextlib.contextmanager
def listener(tmp_path):
    """A unix listener with a backlog of 1 that accepts nothing until told to."""
    path = tmp_path / "busy.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        yield path, server


def fill_backlog(path):
    """Pending connects until the backlog is full (the next one would get EAGAIN)."""
    pending = []
    for _ in range(MOST_PENDING):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(0.0)
        pending.append(client)
        try:
            client.connect(str(path))
        except BlockingIOError:
            client.close()
            pending.pop()
            return pending
    raise AssertionError("the backlog never filled")


def test_asyncio_alone_hands_back_a_socket_that_never_connected(tmp_path):
    # The dependency the helper exists for: asyncio takes EAGAIN for "in progress".
    with listener(tmp_path) as (path, _):
        pending = fill_backlog(path)

        async def scenario():
            _, writer = await asyncio.open_unix_connection(str(path))
            try:
                return writer.get_extra_info("peername")
            finally:
                writer.close()

        assert asyncio.run(scenario()) in (None, "")
        for client in pending:
            client.close()


def test_a_full_backlog_is_waited_out_and_the_connection_works(tmp_path):
    with listener(tmp_path) as (path, server):
        pending = fill_backlog(path)

        async def scenario():
            connecting = asyncio.create_task(open_unix_connection(path, within=10, retry=0.001))
            for _ in range(3):  # let it try, and find the backlog full
                await asyncio.sleep(0)
            assert not connecting.done()
            for _ in pending:  # the listener takes the waiting ones: room in the backlog
                server.accept()[0].close()
            reader, writer = await asyncio.wait_for(connecting, 10)
            accepted, _ = await asyncio.to_thread(server.accept)
            with accepted:
                writer.write(b"ping")
                await writer.drain()
                assert accepted.recv(4) == b"ping"
                accepted.sendall(b"pong")
                assert await reader.readexactly(4) == b"pong"
            writer.close()

        asyncio.run(scenario())
        for client in pending:
            client.close()


def test_a_backlog_that_stays_full_is_a_timeout_within_the_bound(tmp_path):
    with listener(tmp_path) as (path, _):
        pending = fill_backlog(path)
        with pytest.raises(TimeoutError, match=r"backlog stayed full for 0\.2 s"):
            asyncio.run(open_unix_connection(path, within=0.2, retry=0.01))
        for client in pending:
            client.close()


def test_no_listener_at_all_is_the_connects_own_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        asyncio.run(open_unix_connection(tmp_path / "nobody.sock", within=1))
