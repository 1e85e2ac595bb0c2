"""What a page says over its websocket (Reflex 0.10's frontend), as the bench's pages speak
it: the packets, and the names Reflex gives the states and fields they carry."""

from __future__ import annotations

import json

from reflex.state import State
from reflex_base.constants import CompileVars, Endpoint
from reflex_base.constants.state import FIELD_MARKER

from swan.bench import reflex_wire
from webapp.state import Board


def test_the_names_are_reflexs_own():
    assert str(Endpoint.EVENT) == reflex_wire.NAMESPACE
    assert State.get_name() == reflex_wire.ROOT_STATE
    assert Board.get_name() == reflex_wire.BOARD_STATE
    assert f"{State.get_name()}.{CompileVars.HYDRATE_AND_LOAD}" == reflex_wire.HYDRATE_EVENT
    assert reflex_wire.FIELD_SUFFIX == FIELD_MARKER
    assert reflex_wire.IS_HYDRATED == CompileVars.IS_HYDRATED + FIELD_MARKER


def test_a_page_opens_its_websocket_with_its_token_and_hydrates_in_the_connect():
    assert reflex_wire.event_target("abc") == "/_event/?EIO=4&transport=websocket&token=abc"
    packet = reflex_wire.connect_packet()
    assert packet.startswith("40/_event,")
    auth = json.loads(packet.removeprefix("40/_event,"))
    assert auth["event"]["name"] == reflex_wire.HYDRATE_EVENT
    assert auth["event"]["router_data"] == {"pathname": "/", "asPath": "/"}


def test_engine_io_and_socket_io_packets():
    opened = reflex_wire.parse('0{"sid":"x","pingInterval":25000}')
    assert opened == reflex_wire.Packet("open", {"sid": "x", "pingInterval": 25000})
    assert reflex_wire.parse("2").kind == "ping"
    assert reflex_wire.PONG == "3"
    assert reflex_wire.parse("1").kind == "close"
    assert reflex_wire.parse('40/_event,{"sid":"y"}') == reflex_wire.Packet(
        "connected", {"sid": "y"}
    )
    assert reflex_wire.parse('44/_event,{"message":"no"}').kind == "refused"
    event = reflex_wire.parse('42/_event,["event",{"delta":{}}]')
    assert event == reflex_wire.Packet("event", ("event", {"delta": {}}))
    assert reflex_wire.parse('42/_event,12["ping"]') == reflex_wire.Packet("event", ("ping", None))
    assert reflex_wire.parse("42/_event,not json").kind == "other"
    assert reflex_wire.parse("").kind == "other"
    assert reflex_wire.DISCONNECT == "41/_event,"


def test_the_board_push_count_and_hydration_are_read_from_a_delta():
    board = f"{State.get_name()}.{Board.get_name()}"
    update = {"delta": {board: {"pushes_rx_state_": 8, "link_rx_state_": "live"}}}
    assert reflex_wire.board_pushes(update) == 8
    assert reflex_wire.board_pushes({"delta": {board: {"link_rx_state_": "live"}}}) is None
    assert reflex_wire.board_pushes({"delta": {"other": {"pushes_rx_state_": 1}}}) is None
    assert reflex_wire.board_pushes("garbage") is None
    assert reflex_wire.hydrated({"delta": {State.get_name(): {"is_hydrated_rx_state_": True}}})
    assert not reflex_wire.hydrated({"delta": {State.get_name(): {"is_hydrated_rx_state_": False}}})
