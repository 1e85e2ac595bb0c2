"""The composition root of the web app: a static page (no Reflex backend, no server state).

`enable_state=False`: the export opens no websocket to a backend. What the page shows lives
in the browser (`webapp.page_state`), fed by the page's own link to AWS IoT
(components/swan_link.jsx), which reads `/swan-config.json` beside the page.
"""

from __future__ import annotations

import reflex as rx

from webapp.pages.index import DESCRIPTION, TITLE, index

# The push button, as the tab's icon: a green disc on black.
FAVICON = (
    "data:image/svg+xml,"
    "%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Crect width='32' height='32' rx='6' fill='%23030504'/%3E"
    "%3Ccircle cx='16' cy='16' r='10' fill='%233dff7a'/%3E%3C/svg%3E"
)

app = rx.App(
    enable_state=False,
    head_components=[
        rx.el.meta(name="theme-color", content="#030504"),
        rx.el.meta(name="color-scheme", content="dark"),
        rx.el.link(rel="icon", href=FAVICON),
    ],
)
# The page brings its own connection light; Reflex's connection toast would cover the counter.
app.app_wraps.pop((5, "Overlay"), None)
app.add_page(index, route="/", title=TITLE, description=DESCRIPTION)
