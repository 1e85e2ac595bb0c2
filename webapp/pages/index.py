"""The one page: the counter, the push, the numbers."""

from __future__ import annotations

import reflex as rx

from webapp.components.clock import swan_clock
from webapp.components.controls import controls
from webapp.components.header import header
from webapp.components.panels import history, panels
from webapp.state import Board, Viewer

TITLE = "The Swan"
DESCRIPTION = "Push the button every 108 minutes to keep the world going."


def index() -> rx.Component:
    return rx.el.main(
        header(),
        rx.el.section(
            swan_clock(
                known=Board.known,
                failed=Board.failed,
                deadline=Board.deadline,
                alarm=Board.alarm,
                period=Board.period,
                digits=Board.digits,
                clock_sample=Viewer.clock_sample,
                sent_at=Board.sent_at,
                muted=Viewer.muted != "",
                prompt_mode=Board.rule_set == "swan",
            ),
            controls(),
            class_name="stage",
            aria_label="Countdown",
        ),
        panels(),
        history(),
        rx.el.footer("4 8 15 16 23 42", class_name="footer", aria_hidden="true"),
        class_name="page",
    )
