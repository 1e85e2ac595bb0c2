"""A tiny client for the local AWS APIs, for the CLI (boto3 is not needed for this): each
call signed with the stack's administrator key (swan.local.credentials), as AWS requires."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from swan.core.errors import SwanError
from swan.local.credentials import load_or_create
from swan.local.intrinsics import LOCAL_REGION
from swan.local.signed import signed_headers

if TYPE_CHECKING:
    from pathlib import Path

    from swan.local.sigv4 import SigningKey


@dataclass(frozen=True)
class Signer:
    """Who signs, for which API (botocore's name: iot-data, iot, scheduler)."""

    key: SigningKey
    service: str
    region: str = LOCAL_REGION


def admin_signer(state_dir: Path, service: str) -> Signer:
    """The stack's administrator, signing for `service`."""
    return Signer(load_or_create(state_dir, ()).admin, service)


class LocalApiError(SwanError, RuntimeError):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        super().__init__(f"{status} {error_type}: {message}")


def shadow_url(base: str, thing: str, name: str | None) -> str:
    query = f"?{urlencode({'name': name})}" if name else ""
    return f"{base}/things/{quote(thing, safe='')}/shadow{query}"


def call(
    method: str,
    url: str,
    body: bytes | None = None,
    timeout: float = 10,
    *,
    signer: Signer | None = None,
) -> Any:
    headers = {"Content-Type": "application/json"}
    if signer is not None:
        headers = signed_headers(
            signer.key, signer.service, signer.region, method, url, body, headers
        )
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
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
