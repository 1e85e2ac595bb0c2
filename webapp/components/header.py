"""The top bar: the station's name, the live / reconnecting light and the mute switch."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

from webapp.state import Board, Viewer


def link_light() -> rx.Component:
    """Live only when both the browser's websocket and the backend's broker link are up."""
    state = rx.cond(has_connection_errors, "reconnecting", Board.link)
    return rx.el.div(
        rx.el.span(class_name="dot", aria_hidden="true"),
        rx.el.span(state, id="link-state"),
        class_name="pill",
        data_link=state,
        role="status",
        aria_live="polite",
        aria_label=rx.cond(state == "live", "Connection: live", "Connection: " + state),
    )


def mute_switch() -> rx.Component:
    muted = Viewer.muted != ""
    return rx.el.button(
        rx.cond(muted, "Sound off", "Sound on"),
        id="mute",
        class_name="mute",
        type="button",
        aria_pressed=rx.cond(muted, "true", "false"),
        aria_label="Mute the alarm",
        on_click=Viewer.toggle_mute,
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
