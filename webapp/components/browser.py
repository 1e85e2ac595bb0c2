"""The page's JavaScript, wrapped for Python: the flip counter and the ticking "how long
ago" texts (swan_clock.jsx), the link to AWS IoT (swan_link.jsx, browser only), and what
the controls call (swan_actions.js). The modules import each other, so they are declared
here together (Reflex copies them into one folder of the build).
"""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventChain, passthrough_event_spec
from reflex_base.utils.imports import ImportVar
from reflex_base.vars import VarData
from reflex_base.vars.function import FunctionVar

_CLOCK = rx.asset("swan_clock.jsx", shared=True)
_LINK = rx.asset("swan_link.jsx", shared=True)
_ACTIONS = rx.asset("swan_actions.js", shared=True)
# Imported by the modules above; they only have to be beside them.
rx.asset("swan_view.js", shared=True)
rx.asset("swan_clock.css", shared=True)

# The npm packages of the link, pinned (Reflex adds them to reflex.lock/ when it builds).
LINK_PACKAGES = (
    "mqtt@5.16.0",
    "@smithy/signature-v4@5.7.5",
    "@aws-crypto/sha256-js@5.2.0",
    "@aws-sdk/credential-provider-cognito-identity@3.972.85",
)


class SwanClock(rx.Component):
    """The counter: minutes and seconds as split-flap tiles, hieroglyphs at zero."""

    library = _CLOCK.importable_path
    tag = "SwanClock"

    known: rx.Var[bool]
    failed: rx.Var[bool]
    deadline: rx.Var[float]
    alarm: rx.Var[float]
    period: rx.Var[float]
    digits: rx.Var[int]
    offset: rx.Var[float]  # ms to add to this browser's clock
    muted: rx.Var[bool]
    prompt_mode: rx.Var[bool]


class Since(rx.Component):
    """Time since `at` (epoch seconds), ticking: "4 min 12 s ago", or a duration."""

    library = _CLOCK.importable_path
    tag = "Since"

    at: rx.Var[float]
    mode: rx.Var[str]
    until: rx.Var[float]


class SwanLink(rx.NoSSRComponent):
    """The page's one link to AWS IoT: renders nothing, reports every change of what the
    page shows through `on_change` (bound to the page's client-side state)."""

    library = _LINK.importable_path
    tag = "SwanLink"
    lib_dependencies: list[str] = list(LINK_PACKAGES)  # noqa: RUF012 (Reflex's field)

    on_change: rx.EventHandler[passthrough_event_spec(dict)]


def action(name: str) -> FunctionVar:
    """One of swan_actions.js's functions, as an event handler of an element: it runs in
    the browser, with the DOM event, and asks no server."""
    imports = {_ACTIONS.importable_path: [ImportVar(tag=name)]}
    return rx.Var(_js_expr=name, _var_data=VarData(imports=imports)).to(FunctionVar, EventChain)


swan_clock = SwanClock.create
since = Since.create
swan_link = SwanLink.create
