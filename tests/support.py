"""Helpers shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """A real-shaped event from tests/events (name without .json)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket  # noqa: PLC0415  (unit tests never call this)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique(prefix: str = "t") -> str:
    """A name no other test uses (topics, things, client ids)."""
    import uuid  # noqa: PLC0415

    return f"{prefix}{uuid.uuid4().hex[:12]}"
