"""The event loop of the gateway and the bench's clients: uvloop unless told otherwise or
not installed, asyncio's own then; either runs a coroutine."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from swan.adapters import event_loop
from swan.core.errors import InvalidSettingError


def test_uvloop_is_the_default_and_asyncio_can_be_asked_for():
    assert event_loop.wanted({}) == "uvloop"
    assert event_loop.wanted({"SWAN_EVENT_LOOP": ""}) == "uvloop"
    assert event_loop.wanted({"SWAN_EVENT_LOOP": " AsyncIO "}) == "asyncio"


def test_an_unknown_loop_is_refused_naming_the_choices():
    with pytest.raises(
        InvalidSettingError, match="SWAN_EVENT_LOOP='trio': must be uvloop or asyncio"
    ):
        event_loop.wanted({"SWAN_EVENT_LOOP": "trio"})


def test_uvloop_s_loop_by_default_with_its_own_tls(monkeypatch):
    monkeypatch.delenv("SWAN_EVENT_LOOP", raising=False)
    loop = event_loop.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert event_loop.has_own_tls(loop)
    finally:
        loop.close()


def test_asyncio_s_own_loop_when_asked_for(monkeypatch):
    monkeypatch.setenv("SWAN_EVENT_LOOP", "asyncio")
    loop = event_loop.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert not event_loop.has_own_tls(loop)
    finally:
        loop.close()


def test_without_uvloop_installed_asyncio_s_own_loop_is_used(monkeypatch):
    monkeypatch.delenv("SWAN_EVENT_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now fails
    assert event_loop.factory() is asyncio.new_event_loop


@pytest.mark.parametrize("asked", ["uvloop", "asyncio"])
def test_run_runs_a_coroutine_on_the_loop_asked_for(monkeypatch, asked):
    monkeypatch.setenv("SWAN_EVENT_LOOP", asked)

    async def which() -> str:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__.partition(".")[0]

    assert event_loop.run(which()) == asked
