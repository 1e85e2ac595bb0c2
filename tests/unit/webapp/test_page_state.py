"""The board as the page's state has it: what the backend sends is exactly the `Board`
state's fields, keyed as Reflex keys a change of them."""

from __future__ import annotations

from reflex.state import State

from webapp.state import Board
from webapp.view import page_fields, waiting_board
from webapp.webapp import board_update


def test_the_backend_sends_every_field_of_the_board_and_nothing_else():
    fields = {**page_fields(waiting_board(6480), "live", "anytime"), "sent_at": 1.0}
    assert set(fields) == set(Board.base_vars)


def test_a_change_is_keyed_as_reflex_keys_the_board_state():
    update = board_update({"version": 6, "link": "live"})
    assert update.delta == {
        f"{State.get_name()}.{Board.get_name()}": {
            "version_rx_state_": 6,
            "link_rx_state_": "live",
        }
    }
    assert Board.get_full_name() == f"{State.get_name()}.{Board.get_name()}"
