"""Test tiers: everything under tests/unit is marked `unit` and runs with sockets disabled."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

UNIT_DIR = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT_DIR):
            item.add_marker(pytest.mark.unit)


class SocketsDisabledError(RuntimeError):
    """A unit test tried to open a socket."""


class _GuardedSocket(socket.socket):
    """Refuses network sockets; local socket pairs (asyncio's self-pipe) stay allowed."""

    def __init__(self, family: Any = -1, *args: Any, **kwargs: Any) -> None:
        if family in (socket.AF_INET, socket.AF_INET6, -1) and kwargs.get("fileno") is None:
            raise SocketsDisabledError(
                "unit tests may not open network sockets; mark the test integration"
            )
        super().__init__(family, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_sockets_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "socket", _GuardedSocket)
        yield
