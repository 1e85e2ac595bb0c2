"""What the page shows, held in the browser: one client-side state (`swan`), set by the link
to AWS IoT (swan_link.jsx) and read by the parts declared in Python. There is no server
state: the app is exported with `enable_state=False`.

`INITIAL` is what the page shows before the link runs (and what the export prerenders):
every field the link sets, with the same names (tests/unit/webapp checks they match).
"""

from __future__ import annotations

from typing import Any, Final

from reflex.experimental.client_state import ClientStateVar

from swan.core.countdown import DEFAULT_PERIOD_SECONDS, alarm_window

INITIAL: Final[dict[str, Any]] = {
    # the button shadow, as swan_view.js's boardFrom reads it
    "known": False,
    "version": 0,
    "deadline": 0.0,
    "period": float(DEFAULT_PERIOD_SECONDS),
    "alarm": alarm_window(DEFAULT_PERIOD_SECONDS),
    "digits": 3,
    "failed": False,
    "pushes": 0,
    "failures": 0,
    "runStartedAt": 0.0,
    "failedAt": 0.0,
    "lastBy": "",
    "lastSource": "",
    "lastAt": 0.0,
    "history": [],
    "ruleSet": "anytime",
    # the link and this browser
    "link": "connecting",
    "offset": 0.0,
    "inFlight": False,
    "notice": "",
    "noticeKind": "",
    "muted": False,
}

SWAN = ClientStateVar.create("swan", default=INITIAL)


def field(name: str) -> Any:
    """One field of the page's state, as a Var the page's parts render."""
    if name not in INITIAL:
        raise KeyError(name)
    return SWAN.value[name]
