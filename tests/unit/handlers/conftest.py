from __future__ import annotations

import pytest

from swan.adapters.clock import FakeClock
from swan.adapters.history import SqliteHistory
from swan.adapters.iotdata import MemoryShadow, RecordingPublisher
from swan.adapters.scheduler import RecordingScheduler
from swan.core.countdown import Rules
from swan.handlers.ports import Ports


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def ports(tmp_path, clock):
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
