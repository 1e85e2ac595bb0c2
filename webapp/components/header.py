"""The top bar: the station's name, the live / reconnecting light and the mute switch."""

from __future__ import annotations

import reflex as rx

from webapp.components.browser import action
from webapp.page_state import field


def link_light() -> rx.Component:
    """Live while the page's link to AWS IoT is up (connecting, live, reconnecting)."""
    state = field("link").to(str)
    return rx.el.div(
        rx.el.span(class_name="dot", aria_hidden="true"),
        rx.el.span(state, id="link-state"),
        class_name="pill",
        data_link=state,
        role="status",
        aria_live="polite",
        aria_label="Connection: " + state,
    )


def mute_switch() -> rx.Component:
    muted = field("muted").to(bool)
    return rx.el.button(
        rx.cond(muted, "Sound off", "Sound on"),
        id="mute",
        class_name="mute",
        type="button",
        aria_pressed=rx.cond(muted, "true", "false"),
        aria_label="Mute the alarm",
        on_click=action("swanToggleMute"),
    )


def header() -> rx.Component:
    return rx.el.header(
        rx.el.div(
            rx.el.h1("THE SWAN"),
            rx.el.span("Station 3 · push every 108 minutes", class_name="station"),
            class_name="brand",
        ),
        rx.el.div(link_light(), mute_switch(), class_name="status"),
        class_name="topbar",
    )
