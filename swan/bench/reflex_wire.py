"""What a page of the web app says over its websocket, as plain values (Reflex 0.10).

Reflex's frontend speaks Socket.IO 5 over Engine.IO 4 on one websocket at `/_event/`
(no long polling), namespace `/_event`, with its session token in the query string. It
sends its first event, `hydrate_and_load`, inside the Socket.IO CONNECT packet; the backend
answers with the whole state as a delta, runs the page's on_load handlers (ours send the
page the board as it is) and sends their deltas, the last one with `is_hydrated` true.
From then on every change of the board arrives as an `event` whose delta names the board's
state. Engine.IO pings come from the server; a page answers each with a pong.

Pure: text in, values out. State and field names are Reflex's: a state is named after its
module and class (`webapp.state.Board` -> `webapp___state____board`), nested under its
parents with dots, and a field's key carries the suffix `_rx_state_`;
tests/unit/bench/test_reflex_wire.py holds these names to Reflex's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

NAMESPACE: Final = "/_event"
ROOT_STATE: Final = "reflex___state____state"
BOARD_STATE: Final = "webapp___state____board"
HYDRATE_EVENT: Final = f"{ROOT_STATE}.hydrate_and_load"
FIELD_SUFFIX: Final = "_rx_state_"
PUSHES: Final = f"pushes{FIELD_SUFFIX}"
IS_HYDRATED: Final = f"is_hydrated{FIELD_SUFFIX}"

# Engine.IO packet types (one character), and the Socket.IO ones inside a "message".
_OPEN, _CLOSE, _PING, _PONG, _MESSAGE = "0", "1", "2", "3", "4"
_CONNECT, _DISCONNECT, _EVENT, _CONNECT_ERROR = "0", "1", "2", "4"

PONG: Final = _PONG
DISCONNECT: Final = f"{_MESSAGE}{_DISCONNECT}{NAMESPACE},"

Kind = Literal["open", "close", "ping", "pong", "connected", "refused", "event", "other"]
_ENGINE_KINDS: Final[dict[str, Kind]] = {
    _OPEN: "open",
    _CLOSE: "close",
    _PING: "ping",
    _PONG: "pong",
}
_SOCKET_KINDS: Final[dict[str, Kind]] = {_CONNECT: "connected", _CONNECT_ERROR: "refused"}


@dataclass(frozen=True)
class Packet:
    """One websocket text message: what kind it is, and its JSON data (events: the event's
    name and its argument)."""

    kind: Kind
    data: Any = None


def event_target(token: str) -> str:
    """The websocket's request target, as the frontend opens it for session `token`."""
    return f"{NAMESPACE}/?EIO=4&transport=websocket&token={token}"


def connect_packet(route: str = "/") -> str:
    """The Socket.IO CONNECT to the event namespace, carrying the page's hydrate event."""
    event = {
        "name": HYDRATE_EVENT,
        "payload": {},
        "router_data": {"pathname": route, "asPath": route},
    }
    return f"{_MESSAGE}{_CONNECT}{NAMESPACE},{json.dumps({'event': event})}"


def parse(text: str) -> Packet:
    """Decode one text message from the backend (a malformed one is `other`)."""
    kind, body = text[:1], text[1:]
    if kind in _ENGINE_KINDS:
        engine_kind = _ENGINE_KINDS[kind]
        return Packet(engine_kind, _json(body) if engine_kind == "open" else None)
    if kind != _MESSAGE or not body:
        return Packet("other")
    socket_kind, rest = body[:1], body[1:]
    if rest.startswith(NAMESPACE):
        rest = rest[len(NAMESPACE) :].removeprefix(",")
    if socket_kind in _SOCKET_KINDS:
        return Packet(_SOCKET_KINDS[socket_kind], _json(rest))
    if socket_kind == _EVENT:
        data = _json(rest.lstrip("0123456789"))  # an ack id may precede the JSON
        if isinstance(data, list) and data and isinstance(data[0], str):
            return Packet("event", (data[0], data[1] if len(data) > 1 else None))
    return Packet("other")


def board_pushes(update: Any) -> int | None:
    """The board's push count in a state update, if the update changes it."""
    for name, fields in _delta(update).items():
        if name.rsplit(".", 1)[-1] == BOARD_STATE and isinstance(fields, dict):
            pushes = fields.get(PUSHES)
            if isinstance(pushes, int) and not isinstance(pushes, bool):
                return pushes
    return None


def hydrated(update: Any) -> bool:
    """Whether a state update says the page is hydrated (its on_load handlers have run)."""
    root = _delta(update).get(ROOT_STATE)
    return isinstance(root, dict) and root.get(IS_HYDRATED) is True


def _delta(update: Any) -> dict[str, Any]:
    delta = update.get("delta") if isinstance(update, dict) else None
    return delta if isinstance(delta, dict) else {}


def _json(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
