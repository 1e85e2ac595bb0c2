"""The stack serves the exported page as a static host would, and `/swan-config.json` from
its own endpoints (the server around it is the project's HTTP server: the browser tests
load the page through it)."""

from __future__ import annotations

import gzip
import json

import pytest

from swan.local.httpapi import HttpRequest
from swan.local.webapp import Site, page_config

CONFIG = page_config(
    "us-east-1",
    "us-east-1:00000000-0000-4000-8000-000000000000",
    "ws://127.0.0.1:18448/mqtt",
    "http://127.0.0.1:18446",
)
SCRIPT = b"export const swan = 'push the button';\n" * 20


@pytest.fixture
def page(tmp_path):
    """An exported page."""
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("<title>The Swan</title>")
    (site / "404.html").write_text("<p>No such page</p>")
    (site / "assets" / "swan_link-abc.js").write_bytes(SCRIPT)
    (site / "assets" / "swan_link-abc.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "secret.txt").write_text("not served")
    (site / ".hidden").write_text("not served")
    return Site(site, json.dumps(CONFIG).encode())


def get(page: Site, path: str, method: str = "GET", **headers: str):
    sent = {"host": "127.0.0.1:3000"} | {name.lower(): value for name, value in headers.items()}
    response = page.respond(HttpRequest(method, path, b"", sent))
    return response.status, dict(response.headers), response.body


def test_the_page_is_served_and_checked_each_time(page):
    status, headers, body = get(page, "/")
    assert (status, body) == (200, b"<title>The Swan</title>")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_config_names_the_local_deployment_and_is_never_cached(page):
    status, headers, body = get(page, "/swan-config.json")
    assert status == 200
    assert json.loads(body) == {
        "region": "us-east-1",
        "identityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "iotEndpoint": "ws://127.0.0.1:18448/mqtt",
        "cognitoEndpoint": "http://127.0.0.1:18446",
    }
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json"


def test_on_aws_the_config_has_no_cognito_endpoint():
    assert "cognitoEndpoint" not in page_config("eu-west-1", "eu-west-1:x", "wss://e/mqtt")


def test_hashed_assets_are_cached_for_good_and_sent_compressed_to_who_takes_it(page):
    status, headers, body = get(page, "/assets/swan_link-abc.js", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == SCRIPT
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    status, headers, body = get(page, "/assets/swan_link-abc.js")
    assert (status, body) == (200, SCRIPT)
    assert "Content-Encoding" not in headers


@pytest.mark.parametrize(
    "path",
    ["/nope", "/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "/.hidden"],
)
def test_what_is_not_in_the_export_is_not_found(page, path):
    status, _headers, body = get(page, path)
    assert (status, body) == (404, b"<p>No such page</p>")


def test_the_page_is_only_read(page):
    status, _headers, _body = get(page, "/", method="POST")
    assert status == 405


def test_a_page_under_a_foreign_host_name_is_refused(page):
    status, _headers, _body = get(page, "/", Host="swan.attacker.example")
    assert status == 403
    status, _headers, _body = get(page, "/", Host="localhost:3000")
    assert status == 200


def test_every_path_asked_for_is_counted(page):
    get(page, "/")
    get(page, "/swan-config.json")
    get(page, "/swan-config.json")
    get(page, "/_event/?EIO=4&transport=websocket")
    assert page.requests["/swan-config.json"] == 2
    assert page.requests["/_event/"] == 1
    assert page.requests["/"] == 1
