from __future__ import annotations

import pytest

from swan.adapters.clock import FakeClock
from swan.adapters.history import SqliteHistory
from swan.adapters.iotdata import RecordingPublisher
from swan.adapters.scheduler import RecordingScheduler
from swan.core.countdown import Rules
from swan.handlers.ports import Ports


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def ports(tmp_path, clock):
    # imported here: tests/integration/test_sam.py runs this folder's function tests against
    # the Lambda layer alone, which carries nothing of the stand-in
    from swan.local.memory_shadow import MemoryShadow  # noqa: PLC0415

    history = SqliteHistory(tmp_path / "history.db")
    yield Ports(
        shadow=MemoryShadow(),
        history=history,
        scheduler=RecordingScheduler(),
        publisher=RecordingPublisher(),
        clock=clock,
        rules=Rules(),
    )
    history.close()
