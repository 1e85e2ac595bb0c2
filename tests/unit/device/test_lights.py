"""The lights the Pi's desired section may set: brightness and low light."""

from __future__ import annotations

import pytest

from device.lights import Lights


def test_defaults_are_full_brightness_normal_light():
    assert Lights().to_reported() == {"brightness": 1.0, "lowLight": False}


def test_desired_values_are_applied():
    applied = Lights().apply({"brightness": 0.4, "lowLight": True, "colour": "teal"})
    assert applied.lights == Lights(brightness=0.4, low_light=True)
    assert applied.changed
    assert applied.refused == {}


def test_the_same_values_are_no_change():
    applied = Lights(brightness=0.5).apply({"brightness": 0.5})
    assert not applied.changed


@pytest.mark.parametrize("value", [-0.1, 1.5, 50, "0.5", True, None, float("nan")])
def test_a_bad_brightness_is_refused_and_named(value):
    applied = Lights().apply({"brightness": value, "lowLight": True})
    assert applied.lights == Lights(low_light=True)
    assert "brightness" in applied.refused


def test_low_light_must_be_a_boolean():
    applied = Lights().apply({"lowLight": "yes"})
    assert applied.lights == Lights()
    assert not applied.changed
    assert "lowLight" in applied.refused


def test_scaling_keeps_a_full_frame_as_it_is_and_halves_at_fifty():
    frame = ((255, 140, 0), (10, 20, 30))
    assert Lights().scale(frame) is frame
    assert Lights(brightness=0.5).scale(frame) == ((127, 70, 0), (5, 10, 15))
    assert Lights(brightness=0).scale(frame) == ((0, 0, 0), (0, 0, 0))
