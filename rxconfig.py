"""Reflex's configuration for The Swan's web app (the `webapp` package).

Ports, the API URL and the bun path come from the environment (`REFLEX_*`, see
webapp/README.md), so the same file serves `swan up`, the tests and an export.
"""

import reflex as rx

config = rx.Config(
    app_name="webapp",
    telemetry_enabled=False,
    # Listed explicitly: Reflex warns about plugins it enables by itself. The page uses
    # plain elements and its own stylesheet, so no Radix Themes bundle.
    plugins=[rx.plugins.SitemapPlugin()],
    # Loopback unless the deployment says otherwise (REFLEX_BACKEND_HOST).
    backend_host="127.0.0.1",
    show_built_with_reflex=False,
)
