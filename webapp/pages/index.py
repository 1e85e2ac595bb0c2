"""The one page: the counter, the push, the numbers, and the link that feeds them."""

from __future__ import annotations

import reflex as rx

from webapp.components.browser import swan_clock, swan_link
from webapp.components.controls import controls
from webapp.components.header import header
from webapp.components.panels import history, panels
from webapp.page_state import SWAN, field

TITLE = "The Swan"
DESCRIPTION = "Push the button every 108 minutes to keep the world going."


def index() -> rx.Component:
    return rx.el.main(
        swan_link(on_change=SWAN.set),
        header(),
        rx.el.section(
            swan_clock(
                known=field("known").to(bool),
                failed=field("failed").to(bool),
                deadline=field("deadline").to(float),
                alarm=field("alarm").to(float),
                period=field("period").to(float),
                digits=field("digits").to(int),
                offset=field("offset").to(float),
                muted=field("muted").to(bool),
                prompt_mode=field("ruleSet").to(str) == "swan",
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
