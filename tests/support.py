"""Helpers shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """A real-shaped event from tests/events (name without .json)."""
    return json.loads((EVENTS / f"{name}.json").read_text())
