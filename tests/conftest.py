"""Test tiers: everything under tests/unit is marked `unit` and runs with sockets disabled."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from collections.abc import Iterator

UNIT_DIR = Path(__file__).parent / "unit"

# Timing is the bench's business, never a test's: no deadline per Hypothesis example (a loaded
# machine failed a correct one for being slow). Under CI Hypothesis's own "ci" profile is the
# parent, as it already has no deadline.
settings.register_profile("swan", parent=settings.default, deadline=None)
settings.load_profile("swan")
# Where `swan` keeps certificates when a test has not said: nowhere (no directory can be made
# under /dev/null), so a test that forgot fails loudly instead of writing the repository's
# certs/. Each test gets a folder of its own below (_certificates_of_its_own); a fixture
# wider than one test passes --certs-dir or certs_dir= itself.
UNCHOSEN_CERTS_DIR = "/dev/null/a-test-chooses-its-own-certs-dir"


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001  (pytest's hook signature)
    os.environ["SWAN_CERTS_DIR"] = UNCHOSEN_CERTS_DIR


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


@pytest.fixture(autouse=True)
def _certificates_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`swan` keeps certificates in `certs/` of the current directory unless told otherwise:
    each test's commands get a folder of their own (`<tmp_path>/certs`), never the
    repository's certs/."""
    monkeypatch.setenv("SWAN_CERTS_DIR", str(tmp_path / "certs"))
