"""The composition root of the web app: the Reflex app, its page and its backend task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx
from reflex.state import StateUpdate
from reflex_base.constants import SocketEvent
from reflex_base.constants.state import FIELD_MARKER

from webapp import backend
from webapp.pages.index import DESCRIPTION, TITLE, index
from webapp.state import Board, Viewer
from webapp.view import page_fields

if TYPE_CHECKING:
    from collections.abc import Mapping

    from webapp.view import Board as BoardValues
    from webapp.view import LinkState

# The push button, as the tab's icon: a green disc on black.
FAVICON = (
    "data:image/svg+xml,"
    "%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='6' fill='%23030504'/%3E"
    "%3Ccircle cx='16' cy='16' r='10' fill='%233dff7a'/%3E%3C/svg%3E"
)

app = rx.App(
    head_components=[
        rx.el.meta(name="theme-color", content="#030504"),
        rx.el.meta(name="color-scheme", content="dark"),
        rx.el.link(rel="icon", href=FAVICON),
    ],
)
# The page brings its own connection light; Reflex's connection toast would cover the counter.
app.app_wraps.pop((5, "Overlay"), None)
app.add_page(
    index,
    route="/",
    title=TITLE,
    description=DESCRIPTION,
    on_load=[Board.join, Viewer.arrive],
)


def board_update(fields: Mapping[str, Any]) -> StateUpdate:
    """The board's fields as Reflex sends a change of the `Board` state to a page."""
    return StateUpdate(
        delta={
            Board.get_full_name(): {name + FIELD_MARKER: value for name, value in fields.items()}
        }
    )


async def follow_the_button(app: rx.App) -> None:
    """The lifespan task: one MQTT connection for this backend process; every change of the
    board goes to every page on this backend's websocket, as one message."""
    rule_set = backend.settings().rule_set
    broadcast = backend.broadcast()

    async def send(fields: Mapping[str, Any], page: str | None) -> None:
        namespace = app.event_namespace
        if namespace is not None:  # None: the app has no state (never for this one)
            await namespace.emit(str(SocketEvent.EVENT), board_update(fields), to=page)

    broadcast.attach(send)

    async def publish(values: BoardValues, link: LinkState) -> None:
        await broadcast.show(page_fields(values, link, rule_set))

    await backend.feed().run(publish)


app.register_lifespan_task(follow_the_button)
