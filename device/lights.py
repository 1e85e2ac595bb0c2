"""The Pi's light settings: what its own shadow's `desired` section may ask for.

`brightness` (0.0 to 1.0, the share of full brightness every LED gets) and `lowLight` (the
Sense HAT's dimmer gamma table, for dark rooms). A desired value of the wrong kind is
ignored and named, never applied half-way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.core.render import Frame

BRIGHTNESS: Final = "brightness"
LOW_LIGHT: Final = "lowLight"
FULL: Final = 1.0


@dataclass(frozen=True)
class Applied:
    """The settings after applying `desired`, and the keys that were refused (with why)."""

    lights: Lights
    changed: bool
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lights:
    brightness: float = FULL
    low_light: bool = False

    def apply(self, desired: Mapping[str, Any]) -> Applied:
        """Take the keys of `desired` this device knows; others belong to someone else."""
        lights = self
        refused: dict[str, str] = {}
        if BRIGHTNESS in desired:
            value = desired[BRIGHTNESS]
            if _is_number(value) and 0 <= value <= FULL:
                lights = replace(lights, brightness=float(value))
            else:
                refused[BRIGHTNESS] = f"must be a number from 0 to 1, not {value!r}"
        if LOW_LIGHT in desired:
            value = desired[LOW_LIGHT]
            if isinstance(value, bool):
                lights = replace(lights, low_light=value)
            else:
                refused[LOW_LIGHT] = f"must be true or false, not {value!r}"
        return Applied(lights, changed=lights != self, refused=refused)

    def to_reported(self) -> dict[str, Any]:
        return {BRIGHTNESS: self.brightness, LOW_LIGHT: self.low_light}

    def scale(self, frame: Frame) -> Frame:
        """`frame` at this brightness."""
        if self.brightness == FULL:
            return frame
        share = self.brightness
        return tuple((int(r * share), int(g * share), int(b * share)) for r, g, b in frame)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # noqa: PLR0124  (NaN)
