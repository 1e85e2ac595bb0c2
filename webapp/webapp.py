"""The composition root of the web app: the Reflex app, its page and its backend task."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import reflex as rx

from webapp import backend
from webapp.pages.index import DESCRIPTION, TITLE, index
from webapp.state import SHARED_BOARD, Board, Viewer

if TYPE_CHECKING:
    from webapp.view import Board as BoardValues
    from webapp.view import LinkState


class _SharedTokenNoise(logging.Filter):
    """Writing the shared token's state also tries to send it to a "client" named after the
    token; there is none, so Reflex logs a warning per update. Drop just that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"disconnected client '{SHARED_BOARD}'" not in record.getMessage()


logging.getLogger("reflex.app").addFilter(_SharedTokenNoise())

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


async def follow_the_button(app: rx.App) -> None:
    """The lifespan task: one MQTT connection for this backend process."""
    rule_set = backend.settings().rule_set

    async def publish(values: BoardValues, link: LinkState) -> None:
        token = rx.BaseStateToken(ident=SHARED_BOARD, cls=Board)
        async with app.modify_state(token) as root:
            board = await root.get_state(Board)
            board.show(values, link, rule_set, time.time())

    await backend.feed().run(publish)


app.register_lifespan_task(follow_the_button)
