"""A Pi on an in-memory broker with a fake clock and the fake shadow service."""

from __future__ import annotations

import logging

import pytest
from device_fakes import THING, Shadows

from device.pi import Pi
from device.recording import RecordingMatrix
from swan.adapters.clock import FakeClock
from swan.adapters.mqtt import MemoryBroker


@pytest.fixture(autouse=True)
def _swan_logs_heard(caplog):
    """The Lambda functions of earlier tests (powertools) leave the `swan` logger at ERROR;
    these tests read the warnings the Pi logs."""
    caplog.set_level(logging.NOTSET, logger="swan")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def broker():
    return MemoryBroker()


@pytest.fixture
def shadows(broker):
    fake = Shadows(broker)
    fake.attach()
    return fake


@pytest.fixture
def matrix():
    return RecordingMatrix()


@pytest.fixture
def pi(broker, shadows, matrix, clock):  # noqa: ARG001  (the shadows must answer first)
    device = Pi(THING, broker.connect(THING), matrix, clock, firmware="9.9.9")
    device.start()
    return device


@pytest.fixture
def online(pi):
    """The Pi, connected and through its first step."""
    pi.connected()
    pi.step()
    return pi
