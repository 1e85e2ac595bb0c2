"""Stopping the stack closes every connection the gateway holds, piped or not: a client still
in its WebSocket handshake, or connected and silent, neither holds the stop up nor is left
as a task the loop destroys."""

from __future__ import annotations

import logging
import socket

from support import start_local_stack

from swan.core.countdown import Rules

WAIT = 10


def test_a_stop_closes_connections_still_in_their_handshake(tmp_path, caplog):
    stack = start_local_stack(tmp_path / "state", Rules())
    port = int(stack.endpoints().mqtt_ws.rsplit(":", 1)[1].split("/")[0])
    halfway = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    silent = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        halfway.sendall(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            stack.stop()
        assert halfway.recv(1024) == b""  # closed by the gateway, not left open
        assert silent.recv(1024) == b""
    finally:
        halfway.close()
        silent.close()
    destroyed = [r for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert destroyed == []
