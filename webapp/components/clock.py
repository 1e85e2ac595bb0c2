"""The flip counter and the ticking "how long ago" texts: React components of our own
(swan_clock.jsx), because they tick in the browser and the server never sends a second."""

from __future__ import annotations

import reflex as rx

_SOURCE = rx.asset("swan_clock.jsx", shared=True)
# The stylesheet is imported by the JSX module; it only has to be next to it.
rx.asset("swan_clock.css", shared=True)


class SwanClock(rx.Component):
    """The counter: minutes and seconds as split-flap tiles, hieroglyphs at zero."""

    library = _SOURCE.importable_path
    tag = "SwanClock"

    known: rx.Var[bool]
    failed: rx.Var[bool]
    deadline: rx.Var[float]
    alarm: rx.Var[float]
    period: rx.Var[float]
    digits: rx.Var[int]
    clock_sample: rx.Var[float]
    sent_at: rx.Var[float]
    muted: rx.Var[bool]
    prompt_mode: rx.Var[bool]


class Since(rx.Component):
    """Time since `at` (epoch seconds), ticking: "4 min 12 s ago", or a duration."""

    library = _SOURCE.importable_path
    tag = "Since"

    at: rx.Var[float]
    mode: rx.Var[str]
    until: rx.Var[float]


swan_clock = SwanClock.create
since = Since.create
