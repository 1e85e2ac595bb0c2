"""A tiny client for the local iot-data API, for the CLI (boto3 is not needed for this)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from swan.core.errors import SwanError


class LocalApiError(SwanError, RuntimeError):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        super().__init__(f"{status} {error_type}: {message}")


def shadow_url(base: str, thing: str, name: str | None) -> str:
    query = f"?{urlencode({'name': name})}" if name else ""
    return f"{base}/things/{quote(thing, safe='')}/shadow{query}"


def call(method: str, url: str, body: bytes | None = None, timeout: float = 10) -> Any:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (our own URL)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            message = json.loads(raw).get("message", raw.decode(errors="replace"))
        except ValueError:
            message = raw.decode(errors="replace")
        kind = error.headers.get("x-amzn-ErrorType", "Error")
        raise LocalApiError(error.code, kind.split(":")[0], message) from None
    except urllib.error.URLError as error:
        raise LocalApiError(0, "ConnectionError", f"{url}: {error.reason}") from None
