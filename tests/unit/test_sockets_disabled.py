import socket

import pytest


def test_unit_tests_cannot_open_sockets():
    with pytest.raises(RuntimeError, match="may not open network sockets"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_unit_tests_may_use_local_socket_pairs():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
